"""``tinytorch.core.tokenization``: upstream TinyTorch's path for module 10's tokenizers.

An alias module: every name is the same object as in ``tinytorch.text.tokenization`` (module 10),
imported only when asked for (PEP 562, see ``tinytorch._lazy``).
The registry lists this path as an alias of module 10, so the
regression chain's import guard refuses it below stage 10 exactly like ``tinytorch.text.tokenization``.
"""

from __future__ import annotations

from tinytorch._lazy import invert, lazy_namespace

EXPORTS = {
    "tinytorch.text.tokenization": ("CharTokenizer", "BPETokenizer"),
}

__getattr__, __dir__ = lazy_namespace(__name__, globals(), invert(EXPORTS))
__all__ = sorted(invert(EXPORTS))  # ``from … import *`` resolves each name (and so loads module 10)
