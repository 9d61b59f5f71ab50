"""The typed report (``schema.Report``, analysis.py) -> terminal text, Markdown, HTML. Renderers never
classify and never judge: they only show what the report holds, through attribute access.

Each output is its own module — terminal.py (the 100-column grid), markdown_page.py (regression.md),
html_page.py (regression.html, with charts.py's inline SVG) — and says what they share in the words of
render_words.py.

Every value from the code under test goes through ``escape.py`` on its way out: shown, never obeyed —
no terminal control sequence, no Markdown or HTML markup, no ``file://`` link outside a cell's folder.
"""

from __future__ import annotations

from regression.reporting.html_page import marks, render_html
from regression.reporting.markdown_page import render_markdown
from regression.reporting.render_words import cell_header, grid_entry, last_line, legend
from regression.reporting.terminal import render_text

__all__ = ["cell_header", "grid_entry", "last_line", "legend", "marks", "render_html", "render_markdown", "render_text"]
