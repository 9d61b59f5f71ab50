"""``tinytorch.nn``: layers, activations and losses under PyTorch's namespace (``import tinytorch.nn as nn``).

Every name is the same object as in its numbered module (``nn.Conv2d is tinytorch.core.spatial.Conv2D``)
and is imported only when asked for (see ``tinytorch._lazy``): ``import tinytorch.nn`` loads no module.
"""

from __future__ import annotations

from tinytorch._lazy import invert, lazy_namespace

EXPORTS = {
    "tinytorch.core.activations": ("ReLU", "Sigmoid", "Tanh", "GELU", "Softmax"),
    "tinytorch.core.layers": ("Module", "Layer", "Parameter", "Linear", "Dropout", "Sequential", "Flatten"),
    "tinytorch.core.losses": ("MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss"),
    "tinytorch.core.spatial": ("Conv2D", "Conv2d", "MaxPool2D", "MaxPool2d", "AvgPool2D", "AvgPool2d"),
    "tinytorch.text.embeddings": ("Embedding", "PositionalEncoding"),
    "tinytorch.core.attention": ("MultiHeadAttention",),
    "tinytorch.models.transformer": ("LayerNorm", "TransformerBlock"),
}

__getattr__, __dir__ = lazy_namespace(__name__, globals(), invert(EXPORTS))
