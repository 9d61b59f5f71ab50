"""Which files a stage read (pytest plugin, ``-p regression.plugins.inputs``): the inputs of the stage store's key.

With ``TINYTORCH_INPUTS=PATH`` the stage process writes to PATH, as a JSON list, every file of the
checkout (``--rootdir``) and of the running tinytorch package that it imported (``sys.modules``, read at
the end: a module loaded from cached bytecode never opens its source) or opened (an ``open`` audit hook,
so test data and helper scripts count). Bytecode caches, the chain's own output folder
(``TINYTORCH_INPUTS_EXCLUDE``) and version-control files are left out: they are not inputs.
"""

from __future__ import annotations

import json
import os
import sys

from regression.common import ENV_INPUTS, ENV_INPUTS_EXCLUDE

_SKIPPED_PARTS = ("__pycache__", ".pycache", ".git", ".nox", ".regression-cache", ".hypothesis")


class InputLog:
    def __init__(self, root: str, exclude: list[str]):
        self.root = os.path.abspath(root) + os.sep
        self.exclude = tuple(os.path.abspath(e) + os.sep for e in exclude if e)
        self.opened: set[str] = set()

    def audit(self, event: str, args) -> None:
        if event == "open" and args and isinstance(args[0], str):
            self.opened.add(args[0])

    def files(self) -> list[str]:
        package = sys.modules.get("tinytorch")
        package_dir = os.path.dirname(os.path.abspath(package.__file__)) + os.sep if package else None
        candidates = set(self.opened)
        candidates |= {getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}
        found = set()
        for raw in candidates:
            if not raw:
                continue
            path = os.path.abspath(raw)
            if path.startswith(self.exclude) or any(part in _SKIPPED_PARTS for part in path.split(os.sep)):
                continue
            if path.startswith(self.root):
                if os.path.isfile(path):
                    found.add(os.path.relpath(path, self.root).replace(os.sep, "/"))
            elif package_dir and path.startswith(package_dir) and os.path.isfile(path):
                found.add(path)  # an installed (not editable) tinytorch: its own files, by absolute path
        return sorted(found)


_LOG: InputLog | None = None


def pytest_load_initial_conftests(early_config, parser, args):
    """Before conftests import anything: from here on every open is seen."""
    global _LOG
    target = os.environ.get(ENV_INPUTS)
    if target and _LOG is None:
        _LOG = InputLog(str(early_config.rootpath), [os.environ.get(ENV_INPUTS_EXCLUDE, "")])
        sys.addaudithook(_LOG.audit)  # an audit hook cannot be removed: it lives as long as the stage


def pytest_unconfigure(config):
    target = os.environ.get(ENV_INPUTS)
    if _LOG is None or not target:
        return
    temporary = f"{target}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(_LOG.files(), handle)
    os.replace(temporary, target)
