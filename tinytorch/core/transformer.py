"""``tinytorch.core.transformer``: upstream TinyTorch's path for module 13's transformer.

An alias module: every name is the same object as in ``tinytorch.models.transformer`` (module 13),
imported only when asked for (PEP 562, see ``tinytorch._lazy``).
The registry lists this path as an alias of module 13, so the
regression chain's import guard refuses it below stage 13 exactly like ``tinytorch.models.transformer``.
"""

from __future__ import annotations

from tinytorch._lazy import invert, lazy_namespace

EXPORTS = {
    "tinytorch.models.transformer": ("GPT", "LayerNorm", "MLP", "TransformerBlock", "create_causal_mask"),
    "tinytorch.core.attention": ("MultiHeadAttention", "scaled_dot_product_attention"),
}

__getattr__, __dir__ = lazy_namespace(__name__, globals(), invert(EXPORTS))
__all__ = sorted(invert(EXPORTS))  # ``from … import *`` resolves each name (and so loads module 13)
