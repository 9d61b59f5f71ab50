"""The two signals of module 16: an error for what cannot be done, a warning for what cannot be undone."""

from __future__ import annotations

__all__ = ["QuantizationError", "QuantizationWarning"]


class QuantizationError(ValueError):
    """A model or layer cannot be (de)quantized as asked; the message says why and what to do instead."""


class QuantizationWarning(UserWarning):
    """Quantization changed a model in place and its float32 weights are gone for good."""
