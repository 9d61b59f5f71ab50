"""The prerequisite check fails fast with the command that installs what is missing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tools import prerequisites

SCRIPT = Path(prerequisites.__file__)


def test_a_missing_browser_fails_in_seconds_with_the_install_command(tmp_path):
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env={"PATH": str(tmp_path)}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and time.perf_counter() - started < 30
    assert "apt-get install -y chromium" in done.stderr


def test_install_without_apt_says_why(monkeypatch, capsys):
    monkeypatch.setattr(prerequisites.shutil, "which", lambda name: None)
    assert prerequisites.main(["--install"]) == 1
    assert "no apt-get" in capsys.readouterr().err


def test_a_browser_on_path_is_ok(monkeypatch, capsys):
    monkeypatch.setattr(prerequisites.shutil, "which", lambda name: "/usr/bin/chromium" if name == "chromium" else None)
    assert prerequisites.main([]) == 0
    assert "/usr/bin/chromium" in capsys.readouterr().out
