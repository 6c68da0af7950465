"""Render canvas components as plain text lines, for the terminal."""

from __future__ import annotations

from typing import Any

__all__ = ["render_lines"]


def render_lines(components: list[dict[str, Any]]) -> list[str]:
    """Return one or more text lines per component: texts, list items, tables, inputs and buttons."""
    lines: list[str] = []
    for component in components:
        kind = component.get("type")
        if kind == "text":
            prefix = {"header": "# ", "error": "! ", "muted": "  "}.get(component.get("style", ""), "")
            lines.append(prefix + component.get("text", ""))
        elif kind == "list":
            lines.extend(_list_item(item) for item in component.get("items", []))
        elif kind == "data-table":
            lines.extend(f"  {item.get('field')}: {item.get('value')}" for item in component.get("items", []))
        elif kind == "button":
            lines.append(f"[{component.get('label')}] (id {component.get('id')}, {component.get('action', {}).get('type')})")
        elif kind in ("input", "textarea", "dropdown", "single-select", "checkbox"):
            lines.append(f"<{kind} {component.get('id')}: {component.get('label', '')} = {component.get('value', '')!r}>")
        elif kind == "image":
            lines.append(f"(image {component.get('url')})")
        elif kind == "divider":
            lines.append("-" * 40)
    return lines


def _list_item(item: dict[str, Any]) -> str:
    details = " · ".join(part for part in (item.get("subtitle"), item.get("tertiary_text")) if part)
    clickable = f" [{item['id']}]" if item.get("action") else ""
    return f"  • {item.get('title')}" + (f" — {details}" if details else "") + clickable
