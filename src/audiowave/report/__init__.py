"""Readable reports of an analysis: the facts (``facts``), Markdown from a template (``markdown``), a
self-contained HTML page with the pictures (``html``), and optional LLM prose checked against the facts
(``prose``)."""
