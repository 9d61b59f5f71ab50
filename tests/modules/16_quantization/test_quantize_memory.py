"""Module 16: ``quantize_model(model, inplace=False)`` builds its int8 twin without copying float weights.

The measurement: the peak of every allocation made while quantizing (``tracemalloc`` sees NumPy's data
buffers), on top of the float32 model that already exists. A deep copy of the float model first — what
the copy used to be — costs a whole extra model (2.28× at 256 MiB before the fix); the twin built with
the quantized layers in ``deepcopy``'s memo costs the int8 twin itself (codes, scales, copied biases:
0.25×) plus a fixed ≈ 1.6 MiB of working memory, whatever the model's size (1.53-1.63 MiB measured on
4-256 MiB models of 256-1024 wide layers), i.e. 1.26× at 256 MiB.

Why 8 MiB (32 layers of 256 × 256) is enough: tracemalloc counts bytes, not pages — run to run the peak
moved by < 1 KiB; there is no noise to beat, only that fixed working memory. So the bound is stated
without the model's size in it — extra peak ≤ the twin's bytes + ``WORKING_BYTES`` (2 MiB) — and the
failure it exists for, a float copy, adds 8 MiB: 4× that whole allowance, 17× the 0.46 MiB of it left
unused (0.37 MiB under coverage, whose tracer allocates too). It is measured in the test process:
tracemalloc traces only what is allocated after it starts, so the rest of the process is invisible to
it (a fresh interpreter cost ~0.9 s a probe).
Verified: with ``_float_twin`` replaced by ``copy.deepcopy(model)`` both probes fail.

As a script: ``python test_quantize_memory.py --megabytes 256 [--inplace] [--width 1024]`` prints one
JSON line (the issue's 256 MiB model: ``peak_ratio`` 1.26).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tracemalloc
import warnings

import numpy as np
import pytest

from tinytorch.core.layers import Linear, Module, Sequential
from tinytorch.optimization.quantization import QuantizedLinear, quantize_model

WIDTH = 256  # every layer is WIDTH × WIDTH float32: 256 KiB
MEGABYTES = 8  # 32 layers; see the module docstring for why that is enough
WORKING_BYTES = 2 << 20  # quantizing's fixed working memory, measured ≈ 1.6 MiB at any model size


def _fingerprint(model) -> str:
    """sha256 over every array's dtype, shape and bytes, without copying the arrays."""
    digest = hashlib.sha256()
    for name, t in model.named_tensors():
        arr = np.ascontiguousarray(t.data)
        digest.update(f"{name}{arr.dtype.str}{arr.shape}".encode())
        digest.update(memoryview(arr).cast("B"))
    return digest.hexdigest()


def probe(megabytes: int, inplace: bool, width: int = WIDTH) -> dict:
    from tinytorch.optimization.quantization import QuantizationWarning

    np.random.seed(0)
    layers = max(1, megabytes * (1 << 20) // (width * width * 4))
    model = Sequential([Linear(width, width) for _ in range(layers)])
    fp32_bytes = sum(t.data.nbytes for _, t in model.named_tensors())
    before = _fingerprint(model)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuantizationWarning)
            qmodel = quantize_model(model, inplace=inplace)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    int8_bytes = sum(t.data.nbytes for _, t in qmodel.named_tensors())
    return {
        "layers": layers,
        "fp32_bytes": fp32_bytes,
        "int8_bytes": int8_bytes,
        "code_bytes": sum(t.data.nbytes for _, t in qmodel.named_tensors() if t.data.dtype == np.int8),
        "extra_peak_bytes": peak,
        "peak_ratio": (fp32_bytes + peak) / fp32_bytes,
        "original_untouched": inplace or _fingerprint(model) == before,
        "twin_is_new": qmodel is not model,
    }


@pytest.fixture(scope="module")
def probes() -> dict:
    """One copy and one in-place probe of the same model, shared by the two tests below (0.1 s each)."""
    return {"copy": probe(MEGABYTES, inplace=False), "inplace": probe(MEGABYTES, inplace=True)}


def test_inplace_false_peaks_at_the_twin_plus_fixed_working_memory(probes):
    result = probes["copy"]
    assert result["fp32_bytes"] >= MEGABYTES * (1 << 20) and result["layers"] == 32
    assert result["original_untouched"] and result["twin_is_new"]
    assert result["code_bytes"] == 32 * WIDTH * WIDTH  # the twin really is int8: one byte a weight
    assert result["int8_bytes"] < result["fp32_bytes"] / 3.8  # plus float32 scales and biases
    # 1.45x here; the same bytes over at 256 MiB are 1.26x (the issue's <= 1.3x), a float copy 2.25x+
    assert result["extra_peak_bytes"] <= result["int8_bytes"] + WORKING_BYTES, result


def test_inplace_false_costs_no_more_than_inplace_plus_the_codes(probes):
    # Both build the same int8 layers; the copy may add only what the int8 twin itself holds (plus a
    # little slack for the copied container objects), never another float model.
    copy_run, inplace_run = probes["copy"], probes["inplace"]
    assert not inplace_run["twin_is_new"]
    slack = 0.02 * copy_run["fp32_bytes"]
    assert copy_run["extra_peak_bytes"] <= inplace_run["extra_peak_bytes"] + copy_run["int8_bytes"] + slack, (
        copy_run,
        inplace_run,
    )


class _Counting(Module):
    """Records every forward call on itself: calibration must run on the copy, not on the original."""

    def __init__(self):
        self.fc, self.head = Linear(4, 6), Linear(6, 2)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.head(self.fc(x))


class _Keeper(Module):
    """Holds another layer's weight in a dict: a tie the copy must not turn into a shared tensor."""

    def __init__(self, weight):
        self.saved = {"w": weight}

    def forward(self, x):
        return x


def test_calibrating_a_copy_never_touches_the_original(rng):
    model = _Counting()
    twin = quantize_model(model, [rng.standard_normal((3, 4)).astype(np.float32)], inplace=False)
    assert model.calls == 0 and twin.calls == 1
    assert isinstance(twin.fc, QuantizedLinear) and type(model.fc) is Linear
    assert twin.fc.bias is not model.fc.bias and not np.shares_memory(twin.fc.bias.data, model.fc.bias.data)


def test_the_copy_shares_no_tensor_with_the_original():
    np.random.seed(0)
    inner = Linear(4, 4)
    model = Sequential(inner, Linear(4, 2), _Keeper(inner.weight))  # inner is tied through a dict: kept float
    twin = quantize_model(model, inplace=False)
    assert "layers.0" in twin.quantization_report.skipped and isinstance(twin.layers[1], QuantizedLinear)
    original = {id(t.data) for _, t in model.named_tensors()}
    assert all(id(t.data) not in original for _, t in twin.named_tensors())
    assert twin.layers[2].saved["w"] is twin.layers[0].weight  # the tie holds inside the copy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=256)
    parser.add_argument("--inplace", action="store_true")
    parser.add_argument("--width", type=int, default=1024)
    args = parser.parse_args()
    print(json.dumps(probe(args.megabytes, args.inplace, args.width)))
