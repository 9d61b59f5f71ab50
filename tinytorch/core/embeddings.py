"""``tinytorch.core.embeddings``: upstream TinyTorch's path for module 11's embeddings.

An alias module: every name is the same object as in ``tinytorch.text.embeddings`` (module 11),
imported only when asked for (PEP 562, see ``tinytorch._lazy``).
The registry lists this path as an alias of module 11, so the
regression chain's import guard refuses it below stage 11 exactly like ``tinytorch.text.embeddings``.
"""

from __future__ import annotations

from tinytorch._lazy import invert, lazy_namespace

EXPORTS = {
    "tinytorch.text.embeddings": ("Embedding", "PositionalEncoding", "EmbeddingBackward"),
}

__getattr__, __dir__ = lazy_namespace(__name__, globals(), invert(EXPORTS))
__all__ = sorted(invert(EXPORTS))  # ``from … import *`` resolves each name (and so loads module 11)
