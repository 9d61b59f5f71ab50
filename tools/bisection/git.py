"""Git for the bisect: read-only questions about the user's repository, and a throw-away worktree.

Everything that changes state happens in a separate worktree (``git worktree add --detach`` in a
temporary folder): its HEAD, its index and its bisect refs are its own, so the user's checkout, index,
stash and any bisect of their own are never touched. The one trace in the shared ``.git`` is the
worktree's administrative entry, which :func:`temporary_worktree` removes again, also on Ctrl-C or
SIGTERM (after the search has ended the judge's process groups: ``contract.Stop``).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from tools.harness import HarnessError, UsageError

TIMEOUT = 600.0  # seconds one git command may take (a checkout of a large tree)


class GitError(HarnessError):
    """A git command failed past the argument checks (the message gives git's own words): exit 1."""


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``git -C repo ARGS``, captured; a failure (with ``check``) or a time-out is a :class:`GitError`."""
    # --no-optional-locks: even `git status` must not refresh the user's index behind their back; no hooks:
    # the throw-away worktree's checkouts must not run the user's post-checkout (or any other) hook.
    command = ["git", "--no-optional-locks", "-c", "core.hooksPath=/dev/null", "-C", str(repo), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args)} did not finish within {TIMEOUT:.0f} s") from None
    if check and done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {(done.stderr or done.stdout).strip() or done.returncode}")
    return done


def toplevel(path: Path) -> Path:
    done = git(path, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise UsageError(f"--repo {path}: not inside a git repository (bisect searches its history)")
    return Path(done.stdout.strip())


def resolve(repo: Path, ref: str, option: str) -> str:
    """The full sha of ``ref``; a clear error naming the option if it is no commit."""
    done = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise UsageError(f"{option} {ref!r} is not a commit of {repo} (see `git log --oneline`)")
    return done.stdout.strip()


def is_ancestor(repo: Path, older: str, newer: str) -> bool:
    return git(repo, "merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def count_between(repo: Path, good: str, bad: str) -> int:
    """Commits in ``good..bad`` (bad included, good not): the candidates of the search."""
    return int(git(repo, "rev-list", "--count", f"{good}..{bad}").stdout.strip())


def subject(repo: Path, sha: str) -> str:
    return git(repo, "log", "-1", "--format=%s", sha).stdout.strip()


def commit_info(repo: Path, sha: str) -> dict:
    fields = git(repo, "log", "-1", "--format=%H%x00%s%x00%an <%ae>%x00%aI", sha).stdout.strip().split("\0")
    return dict(zip(("sha", "subject", "author", "date"), fields))


def worktree_registered(repo: Path, worktree: Path) -> bool:
    listed = git(repo, "worktree", "list", "--porcelain", check=False).stdout.splitlines()
    return f"worktree {worktree}" in listed or f"worktree {worktree.resolve()}" in listed


def is_dirty(repo: Path) -> bool:
    return bool(git(repo, "status", "--porcelain", "--untracked-files=no").stdout.strip())


@contextlib.contextmanager
def temporary_worktree(repo: Path, commit: str) -> Iterator[Path]:
    """A detached worktree of ``repo`` at ``commit`` in a new temporary folder, removed on the way out."""
    base = Path(tempfile.mkdtemp(prefix="tinytorch-bisect-"))
    worktree = base / "worktree"
    try:
        git(repo, "worktree", "add", "--quiet", "--detach", str(worktree), commit)
        yield worktree
    finally:
        # Delayed signals must not interrupt the cleanup itself.
        old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            removed = git(repo, "worktree", "remove", "--force", "--force", str(worktree), check=False)
            shutil.rmtree(base, ignore_errors=True)
            if removed.returncode != 0 and worktree_registered(repo, worktree):
                # Never `git worktree prune`: it would also drop the user's own stale entries.
                print(f"bisect: could not remove the worktree {worktree}: run `git worktree remove --force {worktree}`")
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
