"""Shared fixtures: every RNG seeded per test, and the ``zoo_model`` parametrization."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # so tests can `import zoo`

import zoo  # noqa: E402

DATA_DIR = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _seed_everything():
    """Each test starts from the same random state, whatever ran before it."""
    random.seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def data_dir() -> Path:
    return DATA_DIR


def pytest_generate_tests(metafunc):
    """Parametrize ``zoo_model`` over the zoo entries of the current stage × (fp32, int8).

    ``@pytest.mark.zoo(names=[...], tags=[...], variants=[...])`` narrows the set.
    """
    if "zoo_model" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("zoo")
    opts = marker.kwargs if marker else {}
    names, tags = opts.get("names"), opts.get("tags")
    variants = opts.get("variants", zoo.VARIANTS)
    entries = [
        e
        for e in zoo.entries_for_stage()
        if (names is None or e.name in names) and (tags is None or set(tags) <= e.tags)
    ]
    params = [pytest.param((e, v), id=f"{e.name}-{v}") for e in entries for v in variants]
    if not params:  # an empty parametrization must be visible, not a silent skip
        params = [pytest.param((None, None), id="no-zoo-model-at-this-stage")]
    metafunc.parametrize("zoo_model", params, indirect=True)


@pytest.fixture
def zoo_model(request) -> zoo.ZooCase:
    entry, variant = request.param
    if entry is None:
        pytest.fail(f"no zoo model matches {request.node.nodeid} at stage {zoo.current_stage()}")
    return zoo.build_case(entry, variant)
