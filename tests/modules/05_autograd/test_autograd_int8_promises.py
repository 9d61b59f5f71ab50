"""The int8 twin keeps the fp32 model's autograd promises (``zoo.PROMISES``, module 05's rows): its output
requires grad like the fp32 model's, and its input and parameter gradients have the fp32 twin's dtypes."""

from __future__ import annotations

import pytest
import zoo


@pytest.mark.zoo(variants=zoo.ALL_VARIANTS)
def test_the_int8_twin_keeps_the_autograd_promises_of_the_fp32_model(zoo_model):
    broken = zoo.broken_promises(zoo_model, lambda: zoo_model.input(3), module=5)
    assert not broken, f"{zoo_model.id} breaks the fp32 model's promises: " + "; ".join(broken)
