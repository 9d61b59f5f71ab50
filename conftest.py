"""Every test runs without the settings of the run around it (``tools.cells.RUN_SETTINGS``).

``nox -s signoff`` points the reports root at ``reports/signoff`` for its cells and report; its ``tests``
session inherits that, and a test that runs the bisect or the report would otherwise judge the release's
results rather than the ones it made. The chain's own per-stage variables (stage, records, coverage
context) are not among them: the chain sets those for the stage runs it starts.
"""

from __future__ import annotations

import pytest

from tools.cells import RUN_SETTINGS


@pytest.fixture(autouse=True)
def _without_outer_run_settings(monkeypatch):
    for name in RUN_SETTINGS:
        monkeypatch.delenv(name, raising=False)
