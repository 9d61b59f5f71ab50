"""The harness's tests never see the outer run's settings (run_isolation.py); ``tools/tests/test_run_settings.py``
starts this file under a signoff-like environment."""

from __future__ import annotations

import os

from regression.common import OUTER_RUN_SETTINGS


def test_no_outer_run_setting_is_visible_to_a_harness_test():
    assert [name for name in OUTER_RUN_SETTINGS if name in os.environ] == []
