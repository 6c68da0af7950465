"""Intercom's 64 KB limits on a canvas' `content` and `stored_data`, and list shortening.

Intercom documents a maximum of 64 KB each for `content`, `content_url` and `stored_data`
but not how it counts them, so we count the bytes of compact UTF-8 JSON. What Intercom does
above the limit is not documented either, so responses never exceed it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from canvas.components import TextComponent

__all__ = ["MAX_JSON_BYTES", "clip", "fit_body", "json_size", "showing_note"]

MAX_JSON_BYTES = 64 * 1024
SHOWING_ID_PREFIX = "showing"

_TOTAL_IN_NOTE = re.compile(r"of (\d+)")


def json_size(value: Any) -> int:
    """Return the size in bytes of `value` as compact UTF-8 JSON."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def clip(text: str | None, max_chars: int) -> str:
    """Shorten `text` to at most `max_chars` characters, ending in an ellipsis when cut."""
    if not text:
        return ""
    if len(text) <= max_chars:
        return text
    return text[: max_chars - 1].rstrip() + "…"


def showing_note(shown: int, total: int, key: str) -> TextComponent | None:
    """Return the muted "Showing N of M" text that follows a shortened list, or None when all are shown."""
    if shown >= total:
        return None
    return TextComponent(id=f"{SHOWING_ID_PREFIX}-{key}", text=f"Showing {shown} of {total}", style="muted")


def fit_body(body: dict[str, Any]) -> dict[str, Any] | None:
    """Shorten the lists of a response body until `content` fits; None when it still cannot fit.

    Accepts a canvas response (`{"canvas": {...}}`) or a live canvas one (`{"content": {...}}`).
    Lists and data tables lose their last half until the content fits, and each gets or
    updates a "Showing N of M" note. `stored_data` cannot be shortened, so too large is None.
    """
    canvas = body.get("canvas", body)
    if json_size(canvas.get("stored_data") or {}) > MAX_JSON_BYTES:
        return None
    content = canvas.get("content")
    if content is None or json_size(content) <= MAX_JSON_BYTES:
        return body

    components = content["components"]
    while json_size(content) > MAX_JSON_BYTES:
        position = _largest_shortenable(components)
        if position is None:
            return None
        _halve(components, position)
    return body


def _largest_shortenable(components: Sequence[dict[str, Any]]) -> int | None:
    candidates = [
        (json_size(component), position)
        for position, component in enumerate(components)
        if component.get("type") in ("list", "data-table") and len(component.get("items", [])) > 1
    ]
    return max(candidates)[1] if candidates else None


def _halve(components: list[dict[str, Any]], position: int) -> None:
    component = components[position]
    items = component["items"]
    total = len(items)
    following = components[position + 1] if position + 1 < len(components) else None
    has_note = following is not None and str(following.get("id", "")).startswith(SHOWING_ID_PREFIX)
    if has_note:
        # The view already shortened this list; keep the total it reported.
        match = _TOTAL_IN_NOTE.search(following.get("text", ""))
        total = int(match.group(1)) if match else total

    component["items"] = items[: len(items) // 2]
    note = showing_note(len(component["items"]), total, f"auto-{position}")
    if has_note:
        following["text"] = note.text
    else:
        components.insert(position + 1, note.to_json())
