"""``python -m tools.bisection``: the bisect's entry point, where ``run_main`` makes its errors exit codes."""

import sys

from tools.bisection.cli import main
from tools.harness import run_main

if __name__ == "__main__":
    sys.exit(run_main(main, prog="bisect"))
