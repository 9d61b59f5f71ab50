"""``tinytorch.perf.quantization``: upstream TinyTorch's path for module 16's INT8 quantization.

An alias module: every name is the same object as in ``tinytorch.optimization.quantization`` (module 16),
imported only when asked for (PEP 562, see ``tinytorch._lazy``). ``Quantizer`` (``quantize_tensor``,
``dequantize_tensor``, ``quantize_model``, ``compare_models``) is module 16's own class. The registry
lists this path as an alias of module 16, which the import guard exempts like module 16 itself.
"""

from __future__ import annotations

from tinytorch._lazy import invert, lazy_namespace

EXPORTS = {
    "tinytorch.optimization.quantization": (
        "Quantizer",
        "quantize_model",
        "quantize_int8",
        "dequantize_int8",
        "dequantize_model",
        "compare_model_sizes",
        "QuantizedLinear",
        "QuantizedConv2D",
        "QuantizationError",
        "QuantizationWarning",
    ),
}

__getattr__, __dir__ = lazy_namespace(__name__, globals(), invert(EXPORTS))
__all__ = sorted(invert(EXPORTS))  # ``from … import *`` resolves each name (and so loads module 16)
