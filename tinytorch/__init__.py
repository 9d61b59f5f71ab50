"""tinytorch: a small NumPy deep-learning framework in sixteen numbered modules.

``from tinytorch import Tensor, Linear, ReLU, SGD`` works, and so do ``tinytorch.nn`` and
``tinytorch.optim`` — but lazily (PEP 562 ``__getattr__``, see ``tinytorch._lazy``): importing this
package loads no framework module, and a name loads only its own module when first asked for. The
regression chain's import guard checks that stage k loads no module numbered above k; an eager
import here would load them all. The module order is ``tinytorch.registry``.
"""

from __future__ import annotations

import importlib

from tinytorch._lazy import invert, lazy_namespace

__version__ = "0.1.0"

EXPORTS = {
    "tinytorch.core.tensor": ("Tensor",),
    "tinytorch.core.activations": ("ReLU", "Sigmoid", "Tanh", "GELU", "Softmax"),
    "tinytorch.core.layers": ("Module", "Layer", "Parameter", "Linear", "Dropout", "Sequential", "Flatten"),
    "tinytorch.core.losses": ("MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss"),
    "tinytorch.core.autograd": ("no_grad", "enable_autograd", "Function"),
    "tinytorch.core.optimizers": ("SGD", "Adam", "AdamW"),
    "tinytorch.core.training": ("Trainer", "CosineSchedule", "clip_grad_norm", "save_checkpoint", "load_checkpoint"),
    "tinytorch.data.loader": ("Dataset", "TensorDataset", "DataLoader"),
    "tinytorch.core.spatial": ("Conv2D", "Conv2d", "MaxPool2D", "MaxPool2d", "AvgPool2D", "AvgPool2d"),
    "tinytorch.text.tokenization": ("CharTokenizer", "BPETokenizer"),
    "tinytorch.text.embeddings": ("Embedding", "PositionalEncoding"),
    "tinytorch.core.attention": ("MultiHeadAttention", "scaled_dot_product_attention"),
    "tinytorch.models.transformer": ("LayerNorm", "MLP", "TransformerBlock", "GPT"),
    "tinytorch.profiling.profiler": ("Profiler",),
    "tinytorch.generation.kv_cache": ("KVCache", "generate", "enable_kv_cache", "disable_kv_cache"),
    "tinytorch.optimization.quantization": (
        "quantize_model",
        "quantize_int8",
        "dequantize_int8",
        "compare_model_sizes",
        "Quantizer",
    ),
}

NAMESPACES = ("nn", "optim")  # sub-modules reachable as attributes without an explicit import

_names_getattr, _names_dir = lazy_namespace(__name__, globals(), invert(EXPORTS))


def __dir__() -> list[str]:
    return sorted(set(_names_dir()) | set(NAMESPACES))


def __getattr__(name: str):
    if name in NAMESPACES:
        return importlib.import_module(f"{__name__}.{name}")  # the import also sets the attribute
    return _names_getattr(name)
