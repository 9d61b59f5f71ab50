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
    """Parametrize ``zoo_model`` over the zoo entries of the current stage × variants (default fp32, int8).

    ``@pytest.mark.zoo(names=[...], tags=[...], variants=[...])`` narrows the set; ``variants`` may
    name any of ``zoo.ALL_VARIANTS`` (e.g. ``variants=zoo.ALL_VARIANTS`` adds int8static, int8tensor).
    """
    if "zoo_model" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("zoo")
    opts = marker.kwargs if marker else {}
    names, tags = opts.get("names"), opts.get("tags")
    variants = tuple(opts.get("variants", zoo.VARIANTS))
    unknown = [v for v in variants if v not in zoo.ALL_VARIANTS]
    if unknown:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: unknown zoo variant(s) {unknown}; choose from {zoo.ALL_VARIANTS}"
        )
    entries = [
        e
        for e in zoo.entries_for_stage()
        if (names is None or e.name in names) and (tags is None or set(tags) <= e.tags)
    ]
    params = [pytest.param((e, v), id=f"{e.name}-{v}") for e in entries for v in variants]
    if not params:  # an empty parametrization must be visible, not a silent skip
        params = [pytest.param((None, None), id="no-zoo-model-at-this-stage")]
    metafunc.parametrize("zoo_model", params, indirect=True)


def pytest_collection_modifyitems(items):
    """``@pytest.mark.int8_only("why")`` must say why the test has no fp32 twin: the regression
    records classify its failures as "broken by quantization" on that word."""
    for item in items:
        marker = item.get_closest_marker("int8_only")
        if marker is not None and not (marker.args and isinstance(marker.args[0], str) and marker.args[0].strip()):
            raise pytest.UsageError(f'{item.nodeid}: @pytest.mark.int8_only needs a reason, e.g. int8_only("why")')


@pytest.fixture
def zoo_model(request) -> zoo.ZooCase:
    entry, variant = request.param
    if entry is None:
        pytest.fail(f"no zoo model matches {request.node.nodeid} at stage {zoo.current_stage()}")
    return zoo.build_case(entry, variant)
