"""The small HTML pages the install flow shows an admin when something goes wrong."""

from __future__ import annotations

from html import escape

__all__ = ["render_page"]


def render_page(title: str, message: str, *, link_url: str | None = None, link_text: str | None = None) -> str:
    """Return a complete HTML page with a title, one message and an optional link."""
    link = ""
    if link_url:
        link = f'<p><a href="{escape(link_url, quote=True)}">{escape(link_text or link_url)}</a></p>'
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}</style>"
        f"</head><body><h1>{escape(title)}</h1><p>{escape(message)}</p>{link}</body></html>\n"
    )
