"""The canvas preview renderer: document shapes, every component, and escaping."""

from __future__ import annotations

import copy
import json
import re

import pytest

from canvas.preview import CanvasDocumentError, parse_canvas_document, render_columns, render_page
from tests.conftest import INTERCOM_FIXTURES

CATALOGUE = json.loads((INTERCOM_FIXTURES / "canvas.components.all.response.json").read_bytes())
MARKER = "<b>x</b>"


def test_parse_response_with_canvas():
    canvas = parse_canvas_document(CATALOGUE)

    assert canvas.kind == "response"
    assert len(canvas.components) == len(CATALOGUE["canvas"]["content"]["components"])
    assert canvas.stored_data == CATALOGUE["canvas"]["stored_data"]


def test_parse_live_content_response():
    document = json.loads((INTERCOM_FIXTURES / "canvas.live.response.json").read_bytes())

    canvas = parse_canvas_document(document)

    assert canvas.kind == "live"
    assert [c["type"] for c in canvas.components] == ["text", "list", "button"]


def test_parse_bare_canvas_with_stored_data():
    canvas = parse_canvas_document({"content": {"components": []}, "stored_data": {"a": 1}})

    assert canvas.kind == "canvas"
    assert canvas.stored_data == {"a": 1}


def test_parse_content_url_only_canvas():
    document = json.loads((INTERCOM_FIXTURES / "canvas.messenger.initialize.live.response.json").read_bytes())

    canvas = parse_canvas_document(document)

    assert canvas.components == []
    assert canvas.content_url == document["canvas"]["content_url"]
    assert any("Live canvas" in note for note in canvas.notes)


def test_parse_configure_results_note():
    document = json.loads((INTERCOM_FIXTURES / "canvas.messenger.configure.results.response.json").read_bytes())

    canvas = parse_canvas_document(document)

    assert canvas.kind == "results"
    assert "card_creation_options" in canvas.notes[0]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "expected a JSON object, got list"),
        ({"type": "text"}, "no canvas found"),
        ({"canvas": "x"}, '"canvas" must be an object'),
        ({"content": {"components": "x"}}, '"components" array'),
    ],
)
def test_parse_rejects_non_canvas(document, message):
    with pytest.raises(CanvasDocumentError) as error:
        parse_canvas_document(document)

    assert message in str(error.value)


def test_columns_render_every_catalogue_type():
    html = render_columns(parse_canvas_document(CATALOGUE))

    for component in CATALOGUE["canvas"]["content"]["components"]:
        assert f'data-type="{component["type"]}"' in html
    assert 'class="column column-inbox"' in html
    assert 'class="column column-messenger"' in html
    assert 'data-type="invalid"' not in html


def test_unknown_component_shows_warning():
    html = render_columns(parse_canvas_document({"content": {"components": [{"type": "carousel"}, "text"]}}))

    assert "unknown component type &#x27;carousel&#x27;" in html
    assert "component is not an object" in html


def test_every_string_field_is_escaped():
    document = copy.deepcopy(CATALOGUE)
    _replace_strings(document["canvas"]["content"]["components"])

    html = render_page(document)

    assert MARKER not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_markdown_renders_bold_and_links():
    text = "Hi **there**, see [docs](https://www.example.com/a?b=1&c=2) or [bad](javascript:alert(1))"
    html = render_columns(parse_canvas_document({"content": {"components": [{"type": "text", "text": text}]}}))

    assert "<strong>there</strong>" in html
    assert 'href="https://www.example.com/a?b=1&amp;c=2"' in html
    assert "javascript:" not in re.sub(r">[^<]*<", "><", html)
    assert "[bad](javascript:alert(1))" in html


def test_page_loads_nothing_external():
    html = render_page(CATALOGUE)

    assert "default-src 'none'" in html
    assert "img-src data:" in html
    assert "<img" not in html
    assert not re.search(r"""(src|href)=["']https?://[^"']*\.(js|css)""", html)


def _replace_strings(value):
    """Put MARKER into every string value that a person would read, keeping enums and ids intact."""
    readable = {"text", "label", "placeholder", "value", "title", "subtitle", "tertiary_text", "field", "id", "url"}
    if isinstance(value, list):
        for item in value:
            _replace_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in readable and isinstance(item, str):
                value[key] = item + MARKER
            else:
                _replace_strings(item)
