"""``tinytorch.optim``: the optimizers under PyTorch's namespace (``from tinytorch.optim import Adam``).

The same objects as ``tinytorch.core.optimizers``, imported only when asked for (see ``tinytorch._lazy``).
"""

from __future__ import annotations

from tinytorch._lazy import invert, lazy_namespace

EXPORTS = {
    "tinytorch.core.optimizers": ("Optimizer", "SGD", "Adam", "AdamW"),
}

__getattr__, __dir__ = lazy_namespace(__name__, globals(), invert(EXPORTS))
