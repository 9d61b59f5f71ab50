"""``tinytorch.perf.profiling``: upstream TinyTorch's path for module 14's profiler.

An alias module: every name is the same object as in ``tinytorch.profiling.profiler`` (module 14),
imported only when asked for (PEP 562, see ``tinytorch._lazy``).
The registry lists this path as an alias of module 14, so the
regression chain's import guard refuses it below stage 14 exactly like ``tinytorch.profiling.profiler``.
"""

from __future__ import annotations

from tinytorch._lazy import invert, lazy_namespace

EXPORTS = {
    "tinytorch.profiling.profiler": ("Profiler",),
}

__getattr__, __dir__ = lazy_namespace(__name__, globals(), invert(EXPORTS))
__all__ = sorted(invert(EXPORTS))  # ``from … import *`` resolves each name (and so loads module 14)
