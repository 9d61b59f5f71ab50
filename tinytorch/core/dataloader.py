"""``tinytorch.core.dataloader``: upstream TinyTorch's path for module 08's data loading.

An alias module: every name is the same object as in ``tinytorch.data.loader`` (module 08),
imported only when asked for (PEP 562, see ``tinytorch._lazy``).
The registry lists this path as an alias of module 08, so the
regression chain's import guard refuses it below stage 08 exactly like ``tinytorch.data.loader``.
"""

from __future__ import annotations

from tinytorch._lazy import invert, lazy_namespace

EXPORTS = {
    "tinytorch.data.loader": ("Dataset", "TensorDataset", "DataLoader"),
}

__getattr__, __dir__ = lazy_namespace(__name__, globals(), invert(EXPORTS))
__all__ = sorted(invert(EXPORTS))  # ``from … import *`` resolves each name (and so loads module 08)
