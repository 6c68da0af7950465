"""Size limits, list shortening and relative times of canvas views."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from canvas.client import post_canvas
from canvas.components import ListComponent, ListItem, TextComponent
from canvas.limits import MAX_JSON_BYTES, clip, fit_body, json_size, showing_note
from canvas.relative_time import describe_age
from canvas.views import CanvasViews
from tests.conftest import INTERCOM_FIXTURES, TEST_CLIENT_SECRET
from tests.openapi import validate


def _long_list(count: int) -> dict:
    items = [ListItem(id=f"i{n}", title=f"Item {n} " + "x" * 200).to_json() for n in range(count)]
    return {"canvas": {"content": {"components": [{"type": "list", "items": items}]}}}


def test_fit_body_keeps_small_body():
    body = {"canvas": {"content": {"components": [{"type": "text", "text": "hi"}]}}}

    assert fit_body(body) == {"canvas": {"content": {"components": [{"type": "text", "text": "hi"}]}}}


def test_fit_body_shortens_long_list():
    body = fit_body(_long_list(2000))

    components = body["canvas"]["content"]["components"]
    assert json_size(body["canvas"]["content"]) <= MAX_JSON_BYTES
    assert 100 < len(components[0]["items"]) < 2000
    assert components[1] == {"type": "text", "id": "showing-auto-0", "style": "muted",
                             "text": f"Showing {len(components[0]['items'])} of 2000"}
    validate(body, "initialize_response", corrected=False)


def test_fit_body_keeps_view_total():
    body = _long_list(2000)
    note = showing_note(2000, 9000, "tickets").to_json()
    body["canvas"]["content"]["components"].append(note)

    components = fit_body(body)["canvas"]["content"]["components"]

    assert len(components) == 2
    assert components[1]["text"] == f"Showing {len(components[0]['items'])} of 9000"


def test_fit_body_shortens_live_content():
    body = {"content": _long_list(1000)["canvas"]["content"]}

    fitted = fit_body(body)

    assert json_size(fitted["content"]) <= MAX_JSON_BYTES
    validate(fitted, "live_canvas_response", corrected=False)


def test_fit_body_rejects_unshortenable_content():
    body = {"canvas": {"content": {"components": [{"type": "text", "text": "x" * (MAX_JSON_BYTES + 1)}]}}}

    assert fit_body(body) is None


def test_fit_body_rejects_large_stored_data():
    body = {"canvas": {"content": {"components": []}, "stored_data": {"blob": "x" * MAX_JSON_BYTES}}}

    assert fit_body(body) is None


def test_json_size_counts_utf8_bytes():
    assert json_size({"a": "é"}) == len('{"a":"é"}'.encode("utf-8"))
    assert json_size({"a": [1, 2]}) == 11


def test_clip_marks_cut_text():
    assert clip("short", 10) == "short"
    assert clip("a" * 20, 10) == "a" * 9 + "…"
    assert clip(None, 10) == ""


def test_showing_note_absent_when_complete():
    assert showing_note(5, 5, "x") is None
    assert showing_note(5, 7, "x").text == "Showing 5 of 7"


async def test_view_list_shortened_not_rejected(live_server):
    views = CanvasViews()
    live_server.app.extensions["canvas_views"] = views

    @views.view("inbox.initialize")
    async def huge(request, context):
        items = [ListItem(id=f"row{n}", title="Row " + "y" * 300) for n in range(3000)]
        return [TextComponent(text="Rows", style="header"), ListComponent(items=items)]

    body = (INTERCOM_FIXTURES / "canvas.inbox.initialize.request.json").read_bytes()
    response = await post_canvas(live_server.client, "default", "inbox.initialize", body, TEST_CLIENT_SECRET)

    assert response.status_code == 200
    payload = response.json()
    validate(payload, "initialize_response", corrected=False)
    assert json_size(payload["canvas"]["content"]) <= MAX_JSON_BYTES
    assert payload["canvas"]["content"]["components"][2]["text"].endswith(" of 3000")


NOW = datetime(2026, 6, 12, 10, 0, tzinfo=timezone.utc)
AGES = [
    (timedelta(seconds=0), "just now"),
    (timedelta(seconds=-30), "just now"),
    (timedelta(seconds=59), "just now"),
    (timedelta(minutes=1), "1 minute ago"),
    (timedelta(minutes=45), "45 minutes ago"),
    (timedelta(hours=2, minutes=59), "2 hours ago"),
    (timedelta(days=1), "1 day ago"),
    (timedelta(days=13), "1 week ago"),
    (timedelta(days=40), "1 month ago"),
    (timedelta(days=800), "2 years ago"),
]


@pytest.mark.parametrize(("delta", "expected"), AGES, ids=[text for _, text in AGES])
def test_describe_age_reads_naturally(delta, expected):
    assert describe_age(NOW - delta, NOW) == expected


def test_describe_age_handles_missing_and_naive():
    assert describe_age(None, NOW) == "at an unknown time"
    assert describe_age(datetime(2026, 6, 12, 8, 0), NOW) == "2 hours ago"
