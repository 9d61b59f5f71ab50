"""``python tests/regression/pytest_entry.py ARGS`` = ``python -m pytest ARGS`` minus the current directory on sys.path.

``python -m pytest`` puts the working directory first on ``sys.path``, so run from the checkout it would
test ``./tinytorch`` even in a venv where nox installed the package — this entry point puts ``tests/`` there
instead (so ``-p regression.plugins.guard`` resolves) and lets the interpreter's own ``tinytorch`` load. The chain
adds the checkout through ``PYTHONPATH`` when it is asked to test the checkout (``--import-from checkout``).

A stage process ends quickly (``QuickEnd``, ``end_without_teardown``): what it hands on is written by then.
"""

from __future__ import annotations

import os
import sys


class QuickEnd:
    """One garbage collection when pytest ends, not five.

    pytest collects five times at its very end to surface the exceptions of objects that die last
    (``PytestUnraisableExceptionWarning``, a log line then, never a test's outcome: the records are
    written at session finish, before it). Five passes over a stage's heap — the zoo, every cached model —
    took 0.2–0.4 s per stage here; one pass finds what a test of this suite leaves in reference cycles.
    The key is pytest's own (``_pytest.unraisableexception``, pytest 8.4 as the matrix pins it): where it
    is missing pytest keeps its default.
    """

    def pytest_configure(self, config):
        from _pytest import unraisableexception

        key = getattr(unraisableexception, "gc_collect_iterations_key", None)
        if key is not None:
            config.stash[key] = 1


def end_without_teardown(code: int) -> None:
    """Exit with ``code`` once pytest is done, skipping the interpreter's teardown.

    When ``pytest.main`` returns, everything a stage hands on is written and closed: the records and the
    coverage data at session finish, the inputs list at unconfigure, the log through stdout (flushed
    here). What teardown would still do is free, one by one, every model, array and module the stage
    built: ≈ 0.6 s at stage 16 here, no result depends on it. A coverage started around the process
    (``coverage run``) saves its data at exit: then the process ends the ordinary way.
    """
    coverage = sys.modules.get("coverage")
    if coverage is not None and coverage.Coverage.current() is not None:
        raise SystemExit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    import pytest

    end_without_teardown(pytest.main(plugins=[QuickEnd()]))
