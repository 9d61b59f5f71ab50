"""The test suite's one prerequisite outside Python: a headless Chromium (the HTML report is checked in it).

    python3 tools/prerequisites.py            # check: exit 0, or 1 with the command that installs it
    python3 tools/prerequisites.py --install  # Debian/Ubuntu: apt-get install chromium (root or sudo -n)

Runs in the first seconds of the README's test command and as the first nox session, so a machine that
lacks the browser hears so before any cell runs, never ten minutes in.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
INSTALL = ["apt-get", "install", "-y", "-qq", "chromium"]
HINT = "sudo apt-get update && sudo apt-get install -y chromium"


def find_browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def _as_root(command: list[str]) -> list[str] | None:
    """The command as root: directly when we are, through passwordless sudo otherwise, else None."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return command
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n", *command]
    return None


def install() -> str | None:
    """Install Debian's chromium; returns why it could not (None when it worked)."""
    if not shutil.which("apt-get"):
        return "this is not a Debian/Ubuntu machine (no apt-get): install Chromium with your package manager"
    update, get = _as_root(["apt-get", "update", "-qq"]), _as_root(INSTALL)
    if update is None or get is None:
        return f"installing needs root: run `{HINT}`"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (update, get):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"`{' '.join(command)}` failed ({tail[0]}); run `{HINT}` yourself"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", action="store_true", help="install what is missing (Debian/Ubuntu)")
    args = parser.parse_args(argv)
    browser = find_browser()
    if browser is None and args.install:
        print("prerequisites: installing Debian's chromium (headless browser for the HTML report test) ...")
        reason = install()
        browser = find_browser()
        if browser is None:
            print(f"prerequisites: no headless browser, and it could not be installed: {reason}", file=sys.stderr)
            return 1
    if browser is None:
        print(
            f"prerequisites: no headless browser (looked for {', '.join(BROWSERS)} on PATH); the test suite "
            f"renders the HTML report in one. Install it: `{HINT}` (or run the README's test command, "
            "which does it)",
            file=sys.stderr,
        )
        return 1
    print(f"prerequisites: ok (headless browser {browser})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
