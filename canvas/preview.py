"""Render Canvas Kit JSON to a self-contained HTML page, laid out the way Intercom shows it.

The page shows the canvas twice, side by side: in an Inbox-width column (336 px, the
conversation details panel) and a Messenger-width column (376 px). Canvas text is untrusted,
so every string is escaped; only Markdown bold and http(s)/mailto links in `text` components
become markup. The page loads nothing from outside: CSS and JS are inline, a Content Security
Policy forbids other sources, and images are drawn as placeholders of the canvas's size
instead of being fetched.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "COLUMNS",
    "CanvasDocumentError",
    "PreviewCanvas",
    "parse_canvas_document",
    "describe_stored_data",
    "render_columns",
    "render_page",
]

# Column widths in CSS pixels. Estimates from Intercom's Inbox details panel and Messenger
# window as shown in Intercom's docs; Intercom publishes no exact numbers.
COLUMNS = (("inbox", "Inbox", 336), ("messenger", "Messenger", 376))

SPACER_PIXELS = {"xs": 4, "s": 8, "m": 16, "l": 24, "xl": 32}
TEXT_STYLES = ("header", "paragraph", "muted", "error")
ALIGNMENTS = ("left", "center", "right")
BUTTON_STYLES = ("primary", "secondary", "link")

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")


class CanvasDocumentError(ValueError):
    """Raised when a JSON document contains no canvas the preview can show."""


@dataclass
class PreviewCanvas:
    """The components to show, plus the canvas fields around them."""

    components: list[Any]
    kind: str  # response, canvas, live or results
    stored_data: Any = None
    content_url: str | None = None
    notes: list[str] = field(default_factory=list)


def parse_canvas_document(document: Any) -> PreviewCanvas:
    """Read a response `{"canvas": ...}`, a bare canvas, a live `{"content": ...}` or configure results.

    Raises CanvasDocumentError naming what is missing.
    """
    if not isinstance(document, dict):
        raise CanvasDocumentError(
            f"expected a JSON object, got {type(document).__name__}: give a response "
            '{"canvas": ...}, a canvas {"content": ...} or a live response {"content": ...}'
        )

    if "results" in document and "canvas" not in document:
        results = json.dumps(document["results"], ensure_ascii=False)
        return PreviewCanvas(
            components=[],
            kind="results",
            notes=[f"Configure finished with results {results}; Intercom now sends them to "
                   "Messenger initialize as card_creation_options."],
        )

    kind = "response"
    canvas = document.get("canvas")
    if canvas is None:
        canvas = document
        kind = "live" if set(document) == {"content"} else "canvas"
    if not isinstance(canvas, dict):
        raise CanvasDocumentError(f'"canvas" must be an object, got {type(canvas).__name__}')

    content = canvas.get("content")
    content_url = canvas.get("content_url")
    if content is None and content_url is None:
        raise CanvasDocumentError(
            'no canvas found: expected "canvas", "content" or "content_url" at the top level '
            "(keys present: " + (", ".join(sorted(map(str, document))) or "none") + ")"
        )

    notes = []
    components: list[Any] = []
    if content is not None:
        if not isinstance(content, dict) or not isinstance(content.get("components"), list):
            raise CanvasDocumentError('"content" must be an object with a "components" array')
        components = content["components"]
    if isinstance(content_url, str) and content is None:
        notes.append(f"Live canvas: Intercom fetches the content from {content_url} each time the card is shown.")
    if document.get("event") is not None:
        notes.append("Event " + json.dumps(document["event"], ensure_ascii=False) + ": Intercom marks the app as completed.")
    if document.get("card_creation_options") is not None:
        options = json.dumps(document["card_creation_options"], ensure_ascii=False)
        notes.append(f"card_creation_options {options}: Intercom calls Messenger initialize and inserts the card into the reply.")

    return PreviewCanvas(
        components=components,
        kind=kind,
        stored_data=canvas.get("stored_data"),
        content_url=content_url if isinstance(content_url, str) else None,
        notes=notes,
    )


def render_columns(canvas: PreviewCanvas) -> str:
    """Render the canvas in the Inbox-width and the Messenger-width column, as HTML."""
    body = "".join(_render_component(component) for component in canvas.components)
    if not canvas.components:
        body = '<p class="empty">No components to show.</p>'

    columns = []
    for surface, label, width in COLUMNS:
        columns.append(
            f'<section class="column column-{surface}" data-surface="{surface}" style="width:{width}px">'
            f'<h2>{label} <span class="width">{width} px</span></h2>'
            f'<div class="frame"><div class="canvas">{body}</div></div></section>'
        )
    return "".join(columns)


def render_page(
    document: Any,
    *,
    title: str = "Canvas preview",
    mode: str = "static",
    controls: str = "",
) -> str:
    """Render a canvas JSON document to a complete HTML page.

    `mode="static"` (files written by the CLI) reports clicks in the page; `mode="admin"`
    posts them to the admin endpoints under `/admin/canvas-preview`. `controls` is trusted
    HTML placed above the columns. Raises CanvasDocumentError when `document` is not None
    and contains no canvas.
    """
    canvas = parse_canvas_document(document) if document is not None else PreviewCanvas([], "none")
    nonce = secrets.token_urlsafe(16)
    raw_json = "" if document is None else json.dumps(document, indent=2, ensure_ascii=False)
    notes = "".join(f'<li class="note">{_escape(note)}</li>' for note in canvas.notes)
    exchanges = ""
    if mode == "admin":
        exchanges = ('<details class="exchange"><summary>Requests sent and responses received</summary>'
                     '<pre id="exchanges"></pre></details>')

    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_content_security_policy(nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_escape(title)}</title>
<style>{_CSS}</style>
</head>
<body data-mode="{_escape(mode)}">
<header class="bar"><h1>{_escape(title)}</h1></header>
<main>
{controls}
<ul id="notes" class="notes" aria-live="polite">{notes}</ul>
<div id="columns" class="columns">{render_columns(canvas)}</div>
<p id="stored" class="stored">{_escape(describe_stored_data(canvas.stored_data))}</p>
<details class="raw"><summary>Canvas JSON</summary><pre id="raw-json">{_escape(raw_json)}</pre></details>
{exchanges}
</main>
<script nonce="{nonce}">{_SCRIPT}</script>
</body>
</html>
"""


def describe_stored_data(stored_data: Any) -> str:
    """Return the one-line description of a canvas's `stored_data` shown under the columns."""
    if stored_data is None:
        return ""
    return "stored_data: " + json.dumps(stored_data, ensure_ascii=False)


def _content_security_policy(nonce: str) -> str:
    return (
        "default-src 'none'; "
        "style-src 'unsafe-inline'; "
        f"script-src 'nonce-{nonce}'; "
        "img-src data:; connect-src 'self'; form-action 'self'; base-uri 'none'"
    )


# Components


def _render_component(component: Any) -> str:
    if not isinstance(component, dict):
        return _warning(f"component is not an object: {json.dumps(component, ensure_ascii=False)[:80]}")
    kind = component.get("type")
    renderer = _RENDERERS.get(kind) if isinstance(kind, str) else None
    if renderer is None:
        return _warning(f"unknown component type {kind!r}")

    margin = " no-margin" if component.get("bottom_margin") == "none" else ""
    identifier = _str(component.get("id"))
    return (
        f'<div class="cmp cmp-{kind}{margin}" data-type="{kind}" data-component-id="{_escape(identifier)}">'
        f"{renderer(component)}</div>"
    )


def _render_text(component: dict) -> str:
    style = _choice(component.get("style"), TEXT_STYLES, "paragraph")
    align = _choice(component.get("align"), ALIGNMENTS, "left")
    return f'<p class="text text-{style} align-{align}">{_markdown(_str(component.get("text")))}</p>'


def _render_image(component: dict) -> str:
    align = _choice(component.get("align"), (*ALIGNMENTS, "full_width"), "left")
    width = _positive_int(component.get("width"), 100)
    height = _positive_int(component.get("height"), 100)
    rounded = " rounded" if component.get("rounded") is True else ""
    url = _str(component.get("url"))
    placeholder = (
        f'<div class="image-box align-{align}{rounded}" role="img" aria-label="image {width} by {height}" '
        f'data-url="{_escape(url)}" style="--w:{width}px;aspect-ratio:{width}/{height}">'
        f'<span>image {width}×{height}<br>{_escape(_host(url))}</span></div>'
    )
    action = component.get("action")
    if isinstance(action, dict) and action.get("type") == "url":
        return _link_wrapper(action, placeholder, "image-link")
    return placeholder


def _render_divider(component: dict) -> str:
    return "<hr>"


def _render_spacer(component: dict) -> str:
    size = _choice(component.get("size"), tuple(SPACER_PIXELS), "s")
    return f'<div class="spacer spacer-{size}" style="height:{SPACER_PIXELS[size]}px"></div>'


def _render_data_table(component: dict) -> str:
    rows = []
    for item in _list(component.get("items")):
        if not isinstance(item, dict):
            continue
        field_text = _escape(_str(item.get("field")))
        value_text = _escape(_str(item.get("value")))
        rows.append(
            f'<div class="dt-row"><span class="dt-field" title="{field_text}">{field_text}</span>'
            f'<span class="dt-value" title="{value_text}">{value_text}</span></div>'
        )
    return f'<div class="data-table">{"".join(rows)}</div>'


def _render_list(component: dict) -> str:
    list_disabled = component.get("disabled") is True
    items = []
    for item in _list(component.get("items")):
        if isinstance(item, dict):
            items.append(_render_list_item(item, list_disabled))
    return f'<ul class="list{" disabled" if list_disabled else ""}">{"".join(items)}</ul>'


def _render_list_item(item: dict, list_disabled: bool) -> str:
    disabled = list_disabled or item.get("disabled") is True
    image = ""
    if item.get("image"):
        width = _positive_int(item.get("image_width"), 48)
        height = _positive_int(item.get("image_height"), 48)
        rounded = " rounded" if item.get("rounded_image") is True else ""
        image = (
            f'<span class="item-image{rounded}" role="img" aria-label="image {width} by {height}" '
            f'data-url="{_escape(_str(item.get("image")))}" style="width:{min(width, 48)}px;height:{min(height, 48)}px"></span>'
        )

    parts = [(name, _str(item.get(name))) for name in ("subtitle", "tertiary_text")]
    secondary_html = " • ".join(
        f'<span class="item-{name.replace("_", "-")}">{_escape(text)}</span>' for name, text in parts if text
    )
    inner = (
        f'{image}<span class="item-text"><span class="item-title">{_escape(_str(item.get("title")))}</span>'
        + (f'<span class="item-secondary">{secondary_html}</span>' if secondary_html else "")
        + "</span>"
    )
    identifier = _escape(_str(item.get("id")))
    action = item.get("action")
    if isinstance(action, dict) and not disabled:
        inner += '<span class="chevron" aria-hidden="true">›</span>'
        return f'<li class="item">{_action_element(action, inner, identifier, "item-action")}</li>'
    state = " disabled" if disabled else ""
    return f'<li class="item{state}"><div class="item-action" data-component-id="{identifier}" aria-disabled="{str(disabled).lower()}">{inner}</div></li>'


def _render_button(component: dict) -> str:
    style = _choice(component.get("style"), BUTTON_STYLES, "primary")
    label = _escape(_str(component.get("label")))
    identifier = _escape(_str(component.get("id")))
    action = component.get("action")
    if component.get("disabled") is True or not isinstance(action, dict):
        return f'<button type="button" class="btn btn-{style}" data-component-id="{identifier}" disabled>{label}</button>'
    return _action_element(action, label, identifier, f"btn btn-{style}")


def _render_input(component: dict) -> str:
    identifier = _escape(_str(component.get("id")))
    state = _choice(component.get("save_state"), ("unsaved", "saved", "failed"), "unsaved")
    disabled = component.get("disabled") is True or state == "saved"
    field_html = (
        f'<input type="text" data-input-id="{identifier}" data-input-type="input" '
        f'placeholder="{_escape(_str(component.get("placeholder")))}" value="{_escape(_str(component.get("value")))}"'
        f'{" disabled" if disabled else ""}>'
    )
    action = component.get("action")
    if isinstance(action, dict) and not disabled:
        field_html += _action_element(action, "→", identifier, "inline-action", label="Submit")
    marker = {"saved": '<span class="state-mark saved" title="Saved">✓</span>',
              "failed": '<span class="state-mark failed" title="Failed">!</span>'}.get(state, "")
    return f'{_label(component)}<div class="field input-field state-{state}">{field_html}{marker}</div>'


def _render_textarea(component: dict) -> str:
    identifier = _escape(_str(component.get("id")))
    error = " error" if component.get("error") is True else ""
    disabled = " disabled" if component.get("disabled") is True else ""
    return (
        f'{_label(component)}<textarea class="textarea{error}" rows="3" data-input-id="{identifier}" '
        f'data-input-type="textarea" placeholder="{_escape(_str(component.get("placeholder")))}"{disabled}>'
        f'{_escape(_str(component.get("value")))}</textarea>'
    )


def _render_dropdown(component: dict) -> str:
    identifier = _escape(_str(component.get("id")))
    state = _choice(component.get("save_state"), ("unsaved", "saved", "failed"), "unsaved")
    disabled = " disabled" if component.get("disabled") is True or state == "saved" else ""
    selected_id = _str(component.get("value"))
    options = []
    for option in _options(component.get("options")):
        option_id = _str(option.get("id"))
        attributes = " selected" if option_id == selected_id else ""
        attributes += " disabled" if option.get("disabled") is True else ""
        options.append(f'<option value="{_escape(option_id)}"{attributes}>{_escape(_str(option.get("text")))}</option>')
    return (
        f'{_label(component)}<div class="field state-{state}"><select data-input-id="{identifier}" '
        f'data-input-type="dropdown"{disabled}>{"".join(options)}</select></div>'
    )


def _render_single_select(component: dict) -> str:
    identifier = _escape(_str(component.get("id")))
    state = _choice(component.get("save_state"), ("unsaved", "saved", "failed"), "unsaved")
    disabled = component.get("disabled") is True or state == "saved"
    selected_id = _str(component.get("value"))
    action = component.get("action")
    submits = isinstance(action, dict) and action.get("type") == "submit"
    buttons = []
    for option in _options(component.get("options")):
        option_id = _str(option.get("id"))
        option_disabled = disabled or option.get("disabled") is True
        buttons.append(
            f'<button type="button" class="ss-option" data-input-id="{identifier}" data-input-type="single-select" '
            f'data-option-id="{_escape(option_id)}" aria-pressed="{str(option_id == selected_id).lower()}"'
            + (f' data-action="submit" data-component-id="{identifier}"' if submits else ' data-action="select"')
            + (" disabled" if option_disabled else "")
            + f">{_escape(_str(option.get('text')))}</button>"
        )
    return f'{_label(component)}<div class="single-select state-{state}" role="group">{"".join(buttons)}</div>'


def _render_checkbox(component: dict) -> str:
    identifier = _escape(_str(component.get("id")))
    state = _choice(component.get("save_state"), ("unsaved", "saved", "failed"), "unsaved")
    disabled = component.get("disabled") is True or state == "saved"
    checked_ids = {_str(value) for value in _list(component.get("value"))}
    boxes = []
    # Intercom's schema names the checkbox option array `option` (singular).
    for option in _options(component.get("option")):
        option_id = _str(option.get("id"))
        attributes = " checked" if option_id in checked_ids else ""
        attributes += " disabled" if disabled or option.get("disabled") is True else ""
        boxes.append(
            f'<label class="checkbox-option"><input type="checkbox" data-input-id="{identifier}" '
            f'data-input-type="checkbox" value="{_escape(option_id)}"{attributes}>'
            f"<span>{_escape(_str(option.get('text')))}</span></label>"
        )
    return f'{_label(component)}<div class="checkbox-group state-{state}">{"".join(boxes)}</div>'


_RENDERERS: dict[str, Callable[[dict], str]] = {
    "text": _render_text,
    "image": _render_image,
    "divider": _render_divider,
    "spacer": _render_spacer,
    "data-table": _render_data_table,
    "list": _render_list,
    "button": _render_button,
    "input": _render_input,
    "textarea": _render_textarea,
    "dropdown": _render_dropdown,
    "single-select": _render_single_select,
    "checkbox": _render_checkbox,
}


# Actions and small parts


def _action_element(action: dict, inner: str, identifier: str, css_class: str, *, label: str = "") -> str:
    """Return the clickable element for a submit, url or sheet action."""
    kind = action.get("type")
    aria = f' aria-label="{label}"' if label else ""
    if kind == "url":
        return _link_wrapper(action, inner, css_class)
    if kind == "sheet":
        return (
            f'<button type="button" class="{css_class}" data-action="sheet" data-component-id="{identifier}" '
            f'data-url="{_escape(_str(action.get("url")))}"{aria}>{inner}</button>'
        )
    if kind == "submit":
        return f'<button type="button" class="{css_class}" data-action="submit" data-component-id="{identifier}"{aria}>{inner}</button>'
    return f'<button type="button" class="{css_class}" data-component-id="{identifier}" title="unknown action type" disabled>{inner}</button>'


def _link_wrapper(action: dict, inner: str, css_class: str) -> str:
    url = _str(action.get("url"))
    if not _is_safe_url(url):
        return f'<span class="{css_class}" title="not an http(s) URL: {_escape(url)}">{inner}</span>'
    return (
        f'<a class="{css_class}" data-action="url" href="{_escape(url)}" target="_blank" '
        f'rel="noopener noreferrer">{inner}</a>'
    )


def _label(component: dict) -> str:
    label = component.get("label")
    return f'<span class="label">{_escape(_str(label))}</span>' if label else ""


def _warning(message: str) -> str:
    return f'<div class="cmp cmp-invalid" data-type="invalid"><p class="warning">{_escape(message)}</p></div>'


def _markdown(text: str) -> str:
    """Escape `text`, then turn **bold** and [label](url) with an http(s) or mailto URL into markup."""
    escaped = _escape(text)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)

    def link(match: re.Match) -> str:
        url = html.unescape(match.group(2))
        if not _is_safe_url(url):
            return match.group(0)
        return f'<a href="{_escape(url)}" target="_blank" rel="noopener noreferrer" data-action="url">{match.group(1)}</a>'

    return _LINK.sub(link, escaped)


def _is_safe_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https", "mailto")


def _host(url: str) -> str:
    return urlsplit(url).hostname or "no URL"


def _escape(value: str) -> str:
    return html.escape(value, quote=True)


def _str(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _options(value: Any) -> list[dict]:
    return [option for option in _list(value) if isinstance(option, dict)]


def _choice(value: Any, allowed: tuple[str, ...], default: str) -> str:
    return value if value in allowed else default


def _positive_int(value: Any, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10_000:
        return value
    return default


# NOTE: colours, font sizes and spacings approximate Intercom's rendering from its docs'
# screenshots; Intercom publishes no style sheet, so judge layout and content, not pixels.
_CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#eef0f3}
.bar{background:#1a1a2e;color:#fff;padding:10px 20px}.bar h1{margin:0;font-size:16px;font-weight:600}
main{padding:16px 20px}
.columns{display:flex;gap:32px;align-items:flex-start;flex-wrap:wrap}
.column h2{font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:#6b6f76;margin:0 0 6px}
.column .width{font-weight:400;text-transform:none}
.frame{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.column-messenger .frame{border-radius:12px;box-shadow:0 4px 16px rgba(0,0,0,.12)}
.canvas{padding:16px}
.column-messenger .canvas{padding:20px}
.cmp{margin-bottom:10px}.cmp.no-margin{margin-bottom:0}
.cmp-spacer,.cmp-divider{margin-bottom:0}
.text{margin:0;white-space:pre-wrap;overflow-wrap:anywhere}
.text-header{font-size:16px;font-weight:700}
.column-messenger .text-header{font-size:17px}
.text-muted{color:#737376}.text-error{color:#d4351c}
.align-left{text-align:left}.align-center{text-align:center}.align-right{text-align:right}
.text a,.btn-link{color:#1f5fe0}
hr{border:0;border-top:1px solid #e6e6e9;margin:4px 0 14px}
.image-box{display:flex;align-items:center;justify-content:center;width:min(var(--w),100%);max-width:100%;
  background:repeating-linear-gradient(45deg,#e9ecf2,#e9ecf2 8px,#f3f5f8 8px,#f3f5f8 16px);color:#6b6f76;
  font-size:12px;text-align:center;border:1px dashed #c5cad3}
.image-box.align-center{margin:0 auto}.image-box.align-right{margin-left:auto}
.image-box.align-full_width{width:auto;max-width:none;margin:0 -16px}
.column-messenger .image-box.align-full_width{margin:0 -20px}
.rounded{border-radius:8px}
.image-link{display:block;text-decoration:none}
.data-table{border:1px solid #e6e6e9;border-radius:6px}
.dt-row{display:flex;gap:8px;padding:6px 10px}.dt-row+.dt-row{border-top:1px solid #f0f0f2}
.dt-field{flex:0 0 40%;color:#737376}.dt-value{flex:1;min-width:0}
.column-inbox .dt-field,.column-inbox .dt-value{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.column-messenger .dt-value{overflow-wrap:anywhere}
.list{list-style:none;margin:0;padding:0;border:1px solid #e6e6e9;border-radius:6px}
.item+.item{border-top:1px solid #f0f0f2}
.item-action{display:flex;gap:10px;align-items:center;width:100%;padding:8px 10px;background:none;border:0;
  font:inherit;color:inherit;text-align:left;text-decoration:none}
button.item-action,a.item-action{cursor:pointer}button.item-action:hover,a.item-action:hover{background:#f5f7fb}
.item.disabled,.list.disabled{opacity:.5}
.item-image{flex:none;background:#dfe3ea;border:1px dashed #c5cad3}
.item-text{display:flex;flex-direction:column;min-width:0;flex:1}
.item-title{font-weight:600;overflow-wrap:anywhere}.item-secondary{color:#737376;font-size:13px}
.chevron{color:#9aa0a8;font-size:18px}
.btn{display:block;width:100%;padding:9px 12px;border-radius:6px;border:1px solid transparent;font:inherit;
  font-weight:600;text-align:center;cursor:pointer;text-decoration:none}
.btn-primary{background:#1f5fe0;color:#fff}.btn-secondary{background:#e8effd;color:#1f5fe0}
.btn-link{background:none;padding:4px 0;text-align:left;font-weight:500}
.btn:disabled{background:#eceef1;color:#a0a4ab;cursor:not-allowed}
.label{display:block;font-weight:600;margin-bottom:4px}
.field{position:relative;display:flex;align-items:stretch;border:1px solid #cfd3da;border-radius:6px;background:#fff}
.field input,.field select{flex:1;min-width:0;border:0;padding:8px 10px;font:inherit;background:transparent;border-radius:6px}
.field.state-saved{border-color:#1a9e5c;background:#f1faf5}.field.state-failed{border-color:#d4351c}
.state-mark{align-self:center;padding:0 8px;font-weight:700}.state-mark.saved{color:#1a9e5c}.state-mark.failed{color:#d4351c}
.inline-action{border:0;border-left:1px solid #cfd3da;background:#f5f7fb;color:#1f5fe0;padding:0 12px;font-size:16px;
  cursor:pointer;border-radius:0 6px 6px 0}
.textarea{width:100%;border:1px solid #cfd3da;border-radius:6px;padding:8px 10px;font:inherit;resize:vertical}
.textarea.error{border-color:#d4351c;background:#fdf3f2}
.single-select{display:flex;flex-wrap:wrap;gap:6px}
.ss-option{flex:1 1 auto;padding:7px 10px;border:1px solid #cfd3da;border-radius:6px;background:#fff;font:inherit;cursor:pointer}
.ss-option[aria-pressed=true]{border-color:#1f5fe0;background:#e8effd;color:#1f5fe0;font-weight:600}
.ss-option:disabled{color:#a0a4ab;cursor:not-allowed}
.checkbox-group{display:flex;flex-direction:column;gap:4px}.checkbox-option{display:flex;gap:8px;align-items:center}
.warning{margin:0;padding:6px 8px;background:#fff4e5;border:1px solid #f0b35a;border-radius:4px;font-size:12px}
.empty{color:#737376;margin:0}
.notes{list-style:none;padding:0;margin:0 0 12px}
.note{background:#fffbe6;border:1px solid #f0dc8a;border-radius:4px;padding:6px 10px;margin-bottom:6px;overflow-wrap:anywhere}
.note.error{background:#fdf3f2;border-color:#e8a39a}
.stored{color:#6b6f76;font-size:12px}
.raw pre,.exchange pre{background:#fff;border:1px solid #dfe3ea;padding:8px;overflow:auto;max-height:360px;font-size:12px}
.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end;background:#fff;padding:12px;border-radius:8px;margin-bottom:12px}
.controls label{display:flex;flex-direction:column;font-size:12px;color:#6b6f76;gap:2px}
.controls input,.controls select,.controls textarea{font:inherit;padding:5px 8px;border:1px solid #cfd3da;border-radius:4px}
.controls button{font:inherit;padding:6px 14px;border-radius:4px;border:0;background:#1a1a2e;color:#fff;cursor:pointer}
.controls details,.controls .hint{flex-basis:100%}.controls .hint{margin:0;color:#6b6f76;font-size:12px}.controls textarea{width:100%;min-height:120px;font-family:monospace;font-size:12px}
"""

# Clicks on submit buttons, list items and single-select options: the static page reports
# them; the admin page posts them back through `/admin/canvas-preview/submit`.
_SCRIPT = r"""
(() => {
  const mode = document.body.dataset.mode;
  const notes = document.getElementById("notes");

  function note(text, isError) {
    const item = document.createElement("li");
    item.className = isError ? "note error" : "note";
    item.textContent = text;
    notes.appendChild(item);
  }

  function collectValues(canvas) {
    const values = {};
    canvas.querySelectorAll("[data-input-id]").forEach((element) => {
      const id = element.dataset.inputId;
      const type = element.dataset.inputType;
      if (type === "checkbox") {
        values[id] = values[id] || [];
        if (element.checked) values[id].push(element.value);
      } else if (type === "single-select") {
        if (element.getAttribute("aria-pressed") === "true") values[id] = element.dataset.optionId;
      } else {
        values[id] = element.value;
      }
    });
    return values;
  }

  function select(option) {
    option.parentElement.querySelectorAll(".ss-option").forEach((other) => {
      other.setAttribute("aria-pressed", String(other === option));
    });
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-action]");
    if (!target || !target.closest(".canvas") || target.disabled) return;
    const action = target.dataset.action;
    if (action === "url") {
      note("URL action: opens " + target.href + " in a new tab.");
      return;
    }
    event.preventDefault();
    if (target.classList.contains("ss-option")) select(target);
    if (action === "sheet") {
      note("Sheet action: Intercom would POST to " + target.dataset.url +
           " and show the returned page as a sheet in the Messenger. The preview does not open sheets.");
      return;
    }
    if (action !== "submit") return;
    const componentId = target.dataset.componentId;
    const values = collectValues(target.closest(".canvas"));
    if (mode === "admin" && window.canvasPreview) {
      window.canvasPreview.submit(componentId, values);
    } else {
      note("Submit: component_id=" + componentId + ", input_values=" + JSON.stringify(values) +
           ". A saved page does not post; run intercom-app serve and open /admin/canvas-preview to click through.");
    }
  });

  if (mode !== "admin") return;
  let state = null;

  function show(data) {
    notes.replaceChildren();
    (data.notes || []).forEach((text) => note(text, false));
    if (data.error) note(data.error, true);
    if (typeof data.columns_html === "string") document.getElementById("columns").innerHTML = data.columns_html;
    if (data.state) state = data.state;
    if ("stored_data" in data) document.getElementById("stored").textContent = data.stored_data || "";
    if ("document" in data) document.getElementById("raw-json").textContent = JSON.stringify(data.document, null, 2);
    if (data.exchanges) document.getElementById("exchanges").textContent = JSON.stringify(data.exchanges, null, 2);
    document.body.dataset.surface = state ? state.surface : "";
    document.getElementById("open-live").disabled = !(state && state.live_canvas);
  }

  async function post(path, payload) {
    document.body.dataset.busy = "true";
    try {
      const response = await fetch("/admin/canvas-preview/" + path, {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        credentials: "same-origin",
        body: JSON.stringify(payload),
      });
      let data;
      try {
        data = await response.json();
      } catch (error) {
        data = {error: "The admin endpoint returned HTTP " + response.status + " with a body that is not JSON."};
      }
      show(data);
    } catch (error) {
      show({error: "Could not reach the admin endpoint: " + error});
    } finally {
      document.body.dataset.busy = "false";
    }
  }

  window.canvasPreview = {
    submit(componentId, values) {
      if (!state) {
        note("Run a request first: the preview needs a canvas from the service to submit from.", true);
        return;
      }
      post("submit", {state: state, component_id: componentId, input_values: values});
    },
  };

  document.getElementById("run-form").addEventListener("submit", (event) => {
    event.preventDefault();
    post("run", Object.fromEntries(new FormData(event.target)));
  });
  document.getElementById("open-live").addEventListener("click", () => {
    if (state) post("live", {state: state});
  });
  document.getElementById("render-form").addEventListener("submit", (event) => {
    event.preventDefault();
    post("render", Object.fromEntries(new FormData(event.target)));
  });
})();
"""
