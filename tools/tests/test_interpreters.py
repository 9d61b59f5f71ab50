"""Interpreter discovery on fake PATH / pyenv / uv trees: order, verification, shims, linking."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tools import interpreters


def fake_python(path: Path, answer: str | None, exit_code: int = 0) -> Path:
    """An executable that answers the probe like CPython ``answer`` ("3.12.1"), or fails like a broken shim."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f"echo cpython {answer.replace('.', ' ')}" if answer else "echo 'pyenv: command not found' >&2"
    path.write_text(f"#!/bin/sh\n{body}\nexit {exit_code}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def no_uv(monkeypatch):
    monkeypatch.setattr(interpreters, "uv_candidates", lambda version, python_dir=None: [])


def test_probe_reads_cpython_version_and_rejects_failures(tmp_path):
    assert interpreters.probe(fake_python(tmp_path / "ok", "3.12.1")) == "3.12.1"
    assert interpreters.probe(fake_python(tmp_path / "shim", None, exit_code=127)) is None
    assert interpreters.probe(tmp_path / "absent") is None


def test_path_wins_over_pyenv_when_it_works(tmp_path, no_uv):
    on_path = fake_python(tmp_path / "bin" / "python3.12", "3.12.4")
    fake_python(tmp_path / "pyenv" / "versions" / "3.12.1" / "bin" / "python3.12", "3.12.1")
    found = interpreters.find("3.12", search_path=str(tmp_path / "bin"), pyenv_root=tmp_path / "pyenv")
    assert found == interpreters.Interpreter("3.12", on_path, "3.12.4", "PATH")


def test_broken_path_entry_falls_back_to_newest_pyenv_patch(tmp_path, no_uv):
    fake_python(tmp_path / "bin" / "python3.10", None, exit_code=127)
    fake_python(tmp_path / "pyenv" / "versions" / "3.10.2" / "bin" / "python3.10", "3.10.2")
    newest = fake_python(tmp_path / "pyenv" / "versions" / "3.10.13" / "bin" / "python3.10", "3.10.13")
    fake_python(tmp_path / "pyenv" / "versions" / "3.10-dev" / "bin" / "python3.10", "3.10.99")
    found = interpreters.find("3.10", search_path=str(tmp_path / "bin"), pyenv_root=tmp_path / "pyenv")
    assert found is not None and (found.path, found.source, found.full_version) == (newest, "pyenv", "3.10.13")


def test_pyenv_shims_on_path_are_not_probed(tmp_path, no_uv):
    root = tmp_path / "pyenv"
    shim = fake_python(root / "shims" / "python3.9", "3.9.0")  # would answer, but is never asked
    real = fake_python(root / "versions" / "3.9.18" / "bin" / "python3.9", "3.9.18")
    found = interpreters.find("3.9", search_path=str(shim.parent), pyenv_root=root)
    assert found is not None and found.path == real


def test_wrong_version_on_path_is_not_accepted(tmp_path, no_uv):
    fake_python(tmp_path / "bin" / "python3.11", "3.12.0")  # a mislabelled link
    assert interpreters.find("3.11", search_path=str(tmp_path / "bin"), pyenv_root=tmp_path / "none") is None


def test_uv_managed_pythons_are_the_last_resort(tmp_path, monkeypatch):
    uv_dir = tmp_path / "uv"
    fake_python(uv_dir / "cpython-3.13.0-linux-x86_64-gnu" / "bin" / "python3.13", "3.13.0")
    newest = fake_python(uv_dir / "cpython-3.13.2-linux-x86_64-gnu" / "bin" / "python3.13", "3.13.2")
    fake_python(uv_dir / "cpython-3.13.3+freethreaded-linux-x86_64-gnu" / "bin" / "python3.13", "3.13.3")
    assert interpreters.uv_candidates("3.13", uv_dir)[0] == newest
    monkeypatch.setattr(interpreters, "_uv_python_dir", lambda: uv_dir)
    found = interpreters.find("3.13", search_path="", pyenv_root=tmp_path / "none")
    assert found is not None and (found.path, found.source) == (newest, "uv")


def test_missing_reason_says_how_to_get_it():
    reason = interpreters.missing_reason("3.9")
    assert "python 3.9 not found" in reason and "pyenv install 3.9" in reason


def test_expose_links_versioned_names_only_and_prepends_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin")
    real = fake_python(tmp_path / "versions" / "3.12.1" / "bin" / "python3.12", "3.12.1")
    link_dir = tmp_path / "links"
    found = {"3.12": interpreters.Interpreter("3.12", real, "3.12.1", "pyenv"), "3.9": None}
    interpreters.expose(found, link_dir)
    interpreters.expose(found, link_dir)  # idempotent: relinks, and PATH holds the directory once
    assert sorted(p.name for p in link_dir.iterdir()) == ["python3.12"]
    assert (link_dir / "python3.12").resolve() == real.resolve()
    assert os.environ["PATH"].split(os.pathsep) == [str(link_dir), "/usr/bin"]


def test_nested_nox_rediscovering_the_links_keeps_them_pointing_at_the_interpreter(tmp_path, monkeypatch, no_uv):
    monkeypatch.setenv("PATH", "/usr/bin")
    real = fake_python(tmp_path / "versions" / "3.12.1" / "bin" / "python3.12", "3.12.1")
    link_dir = tmp_path / "links"
    interpreters.expose({"3.12": interpreters.Interpreter("3.12", real, "3.12.1", "pyenv")}, link_dir)
    again = interpreters.find("3.12", search_path=str(link_dir), pyenv_root=tmp_path / "none")
    assert again is not None and again.path == link_dir / "python3.12"  # found through the link
    interpreters.expose({"3.12": again}, link_dir)
    assert (link_dir / "python3.12").resolve() == real.resolve()
    assert interpreters.probe(link_dir / "python3.12") == "3.12.1"
