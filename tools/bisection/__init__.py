"""Which commit broke it: ``git bisect`` between two refs with the regression chain as the judge.

    nox -s bisect -- --good REF [--bad REF] [--cell CELL] [--test NODEID ... | --stage K | --module N]
    python -m tools.bisection --good REF [...] [--report PATH] [--out PATH] [--python EXE] [--repo DIR]

What is judged: the given test ids, or the failures of the last report (``reports/regression.json``) on
the cell — by default those at its first red stage, or at ``--stage K`` / of ``--module N``; with no
report failures there, whatever fails at ``--bad`` in that stage/module. A commit is *bad* when one of
those test ids fails, *good* when they all pass (another, unrelated failure does not count), and
*skipped* when they cannot run at all (no chain, a syntax error, an import crash, their files do not
collect). Each step runs only that: ``chain.py --stages K [--module N]`` of the commit, or pytest on
the node ids, with the cell's interpreter and NumPy (default cell: the first red cell of the report,
else the default Python with its newest NumPy) in one venv reused by every step and later bisects
(``.nox/bisect-envs/<cell>``). Only the package is (re)installed, editable from the worktree and
``--no-deps``: at the first step, and again at a commit that changes its packaging metadata (the
editable install follows source changes by itself). The tests import the worktree's tinytorch, checked.

The search runs in a temporary worktree of the committed history: the user's checkout, index, stash and
own bisect are never touched, uncommitted changes are not part of the search, and the worktree is
removed at the end, on Ctrl-C and on SIGTERM too. Before searching, ``--bad`` must show the failure
and ``--good`` must not (else: the failure is older than the good ref).

Prints one line per step (step i of ≈ log2 N, the commit, its verdict), then
``first bad commit: <sha> <subject>`` and what it broke there (test, classification), and writes
``reports/bisect.json``. Exit status: 0 found, 1 not isolated (only skipped commits left), the judge
failed or the venv could not be made; 2 bad input (one line on stderr; the checkout untouched, no
bisect.json); 130 Ctrl-C, 143 SIGTERM (the judge's process groups ended, the worktree removed).

The modules, in the order a run uses them: ``cli`` (arguments and the main flow), ``plan`` (what is
judged, what each step runs), ``env`` (the cell's venv), ``git`` (questions and the throw-away
worktree), ``search`` (the checks of both ends and the ``git bisect`` loop, the result) and ``judge``
(the stand-alone judge each step runs).
"""
