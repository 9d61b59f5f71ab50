"""The parts of a test record read off pytest's reports: the outcome its phases fold into, the one-line
message of a collection error, and where in the checkout a failure came from (``origin``).
"""

from __future__ import annotations

import os
import re
import sys

from regression.common import first_line
from regression.contract import NEUTRAL_OUTCOMES, PASS_OUTCOMES, Outcome

_EXC_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*(?:Error|Exception|Exit|Failed|Interrupt|Warning))\b(.*)$")
_TEARDOWN_CAN_FAIL = PASS_OUTCOMES | NEUTRAL_OUTCOMES  # a failed teardown turns these into an error


def collect_message(text: str) -> str:
    """The exception line of a collection error's text (pytest hides the original exception)."""
    lines = [line[1:].strip() for line in str(text).splitlines() if line.startswith("E ")]
    for line in reversed(lines):
        match = _EXC_LINE.match(line)
        if match:
            return first_line(match.group(1) + match.group(2))
    return first_line(lines[-1] if lines else text) or "collection failed"


def fold(phases: dict) -> tuple[Outcome, str]:
    """(outcome, phase that decided it) from the setup/call/teardown reports of one test."""
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    if setup is not None and setup.failed:
        return Outcome.ERROR, "setup"
    if setup is not None and setup.skipped:
        return (Outcome.XFAILED if hasattr(setup, "wasxfail") else Outcome.SKIPPED), "setup"
    outcome, when = Outcome.PASSED, "call"
    if call is not None:
        if call.failed:
            outcome = Outcome.FAILED
        elif call.skipped:
            outcome = Outcome.XFAILED if hasattr(call, "wasxfail") else Outcome.SKIPPED
        elif hasattr(call, "wasxfail"):
            outcome = Outcome.XPASSED
    if teardown is not None and teardown.failed and outcome in _TEARDOWN_CAN_FAIL:
        return Outcome.ERROR, "teardown"
    return outcome, when


def _package_dir() -> str | None:
    """The folder of the tinytorch package that is running (a checkout may itself be named tinytorch)."""
    package = sys.modules.get("tinytorch")
    file = getattr(package, "__file__", None)
    return os.path.dirname(os.path.abspath(file)) + os.sep if file else None


def origin_of(excinfo, rootdir: str) -> str | None:
    """Where a failure came from: the innermost frame in the tinytorch package, else the innermost frame
    under the test root (``path:line in function``) — the code location a cause is grouped by."""
    if excinfo is None:
        return None
    try:
        entries = [(os.path.abspath(str(e.path)), e) for e in excinfo.traceback]
    except Exception:  # a traceback pytest cannot walk: the cause is grouped by its message alone
        return None
    package = _package_dir()
    root = os.path.abspath(rootdir) + os.sep
    inside = [(p, e) for p, e in entries if package and p.startswith(package)]
    base = os.path.dirname(package.rstrip(os.sep)) + os.sep if inside else root
    own = [(p, e) for p, e in entries if p.startswith(root) and "site-packages" not in p]  # not pytest's
    chosen = (inside or own or [None])[-1]
    if chosen is None:
        return None
    path, entry = chosen
    return f"{os.path.relpath(path, base).replace(os.sep, '/')}:{entry.lineno + 1} in {entry.name}"
