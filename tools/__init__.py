"""Helpers the noxfile imports: the matrix, interpreter discovery, coverage and report plumbing.

Kept out of ``noxfile.py`` so the noxfile stays a declarative list of sessions and this logic can be
unit-tested (``tools/tests``) without running nox.
"""
