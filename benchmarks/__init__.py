"""Benchmarks: each module here exposes ``run() -> list[dict]``; ``python -m benchmarks`` runs them all."""
