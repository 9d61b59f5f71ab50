"""Git for the bisect: read-only questions about the user's repository, and a throw-away worktree.

Everything that changes state happens in a separate worktree (``git worktree add --detach`` in a
temporary folder): its HEAD, its index and its bisect refs are its own, so the user's checkout, index,
stash and any bisect of their own are never touched. The one trace in the shared ``.git`` is the
worktree's administrative entry, which :func:`temporary_worktree` removes again, also on Ctrl-C or
SIGTERM (the children run in their own session and are killed by process group first).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator


class GitError(Exception):
    """A git question with a bad answer for the user (unknown ref, unrelated refs): the message says which."""


class Interrupted(Exception):
    """SIGTERM or SIGHUP arrived; raised like KeyboardInterrupt so every ``finally`` cleans up."""


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # --no-optional-locks: even `git status` must not refresh the user's index behind their back.
    done = subprocess.run(
        ["git", "--no-optional-locks", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {(done.stderr or done.stdout).strip() or done.returncode}")
    return done


def toplevel(path: Path) -> Path:
    done = git(path, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise GitError(f"{path} is not inside a git repository (bisect searches its history)")
    return Path(done.stdout.strip())


def resolve(repo: Path, ref: str, option: str) -> str:
    """The full sha of ``ref``; a clear error naming the option if it is no commit."""
    done = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise GitError(f"{option} {ref!r} is not a commit of {repo} (see `git log --oneline`)")
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


# ------------------------------------------------------------------------------- child processes
def _kill_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop a child started with ``start_new_session`` and everything it started (its process group)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
            return


def stream(command: list[str], cwd: Path, on_line) -> int:
    """Run ``command`` in its own session, handing each output line to ``on_line``; its exit status.

    Its own session: a Ctrl-C reaches only us, and we stop the whole group before cleaning up, so no
    judge is left writing into a worktree being removed.
    """
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
        return proc.wait()
    finally:
        _kill_group(proc)
        if proc.stdout is not None:
            proc.stdout.close()


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """SIGTERM/SIGHUP raise :class:`Interrupted` (SIGINT already raises KeyboardInterrupt) while inside."""

    def handler(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


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
