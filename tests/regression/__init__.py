"""The regression chain: stage runner, import guard, per-test records, the matrix report.

Importable as the top-level package ``regression`` with ``tests/`` on ``sys.path`` (``tests/conftest.py``
puts it there for the test session; ``chain.py``/``report.py`` do it themselves when run as scripts).
See ``README.md`` in this folder.
"""
