"""The Markdown report as one self-contained HTML page (markdown-it-py; pictures inlined as data URIs)."""

from __future__ import annotations

import base64
import html

from markdown_it import MarkdownIt

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
img{max-width:100%;border:1px solid #eee}code{background:#f4f4f4;padding:0 .2rem}"""


def html_report(markdown: str, title: str, images: dict[str, bytes] | None = None) -> str:
    """HTML of ``markdown``; image links found in ``images`` (link -> PNG bytes) become data URIs."""
    body = MarkdownIt("commonmark").enable("table").render(markdown)
    for link, data in (images or {}).items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        body = body.replace(f'src="{html.escape(link)}"', f'src="{uri}"')
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}</body></html>\n"
    )
