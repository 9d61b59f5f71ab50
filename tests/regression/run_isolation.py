"""The harness's own tests never see the settings of the run around them (``OUTER_RUN_SETTINGS``).

``nox -s signoff`` points the reports root at ``reports/signoff`` for its cells and report; its ``tests``
session inherits that, and a test that runs the bisect or the report would otherwise judge the release's
results rather than the ones it made. The chain's own per-stage variables (stage, records, coverage
context) are not among them: the chain sets those for the stage runs it starts.

Used by the conftests of ``tests/regression`` and ``tools/tests`` only. A module test reads none of these
settings and a chain stage never has them (``stage.build_env`` drops them), so the chain pays nothing for
this: from the checkout's top-level conftest it ran around every one of a cell's 13,010 test runs and
imported ``tools.cells`` in each of its 16 stage processes.
"""

from __future__ import annotations

import pytest

from regression.common import OUTER_RUN_SETTINGS


@pytest.fixture(autouse=True)
def without_outer_run_settings(monkeypatch):
    for name in OUTER_RUN_SETTINGS:
        monkeypatch.delenv(name, raising=False)
