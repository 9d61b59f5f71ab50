"""``tinytorch.perf.memoization``: upstream TinyTorch's path for module 15's KV cache.

An alias module: every name is the same object as in ``tinytorch.generation.kv_cache`` (module 15),
imported only when asked for (PEP 562, see ``tinytorch._lazy``).
The registry lists this path as an alias of module 15, so the
regression chain's import guard refuses it below stage 15 exactly like ``tinytorch.generation.kv_cache``.
"""

from __future__ import annotations

from tinytorch._lazy import invert, lazy_namespace

EXPORTS = {
    "tinytorch.generation.kv_cache": (
        "KVCache",
        "KVCacheRangeError",
        "enable_kv_cache",
        "disable_kv_cache",
        "generate",
    ),
}

__getattr__, __dir__ = lazy_namespace(__name__, globals(), invert(EXPORTS))
__all__ = sorted(invert(EXPORTS))  # ``from … import *`` resolves each name (and so loads module 15)
