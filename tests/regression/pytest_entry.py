"""``python tests/regression/pytest_entry.py ARGS`` = ``python -m pytest ARGS`` minus the current directory on sys.path.

``python -m pytest`` puts the working directory first on ``sys.path``, so run from the checkout it would
test ``./tinytorch`` even in a venv where nox installed the package — this entry point puts ``tests/`` there
instead (so ``-p regression.plugins.guard`` resolves) and lets the interpreter's own ``tinytorch`` load. The chain
adds the checkout through ``PYTHONPATH`` when it is asked to test the checkout (``--import-from checkout``).
Works the same under ``coverage run`` (which also sets ``sys.path[0]`` to the script's folder).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    import pytest

    raise SystemExit(pytest.console_main())
