"""The report: reading what the chain wrote (loading); the analysis into the typed ``schema.Report``
(analysis, failures, classify, causes, points_at, decision, coverage_table); its renderers (render,
render_words, terminal, markdown_page, html_page, charts, escape, junit)."""
