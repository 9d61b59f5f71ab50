"""Tests of the nox helpers (run by `nox -s tests`)."""
