"""The canvas view registry, result wrapping per request kind, and the documented example."""

from __future__ import annotations

import json
import re

import pytest

from canvas.actions import SheetAction
from canvas.client import post_canvas
from canvas.components import ButtonComponent, Canvas, Content, TextComponent
from canvas.requests import InboxInitializeRequest
from canvas.responses import ConfigureResults, InitializeResponse, LiveCanvasResponse, SubmitResponse
from canvas.views import REQUEST_MODELS, CanvasViews, ViewContext, ViewNotFound, to_response
from tests.conftest import INTERCOM_FIXTURES, REPO_ROOT, TEST_CLIENT_SECRET
from tests.openapi import validate


def _named(name: str):
    async def view(request, context):
        return name

    return view


def test_find_prefers_exact_then_prefix():
    views = CanvasViews()
    default, prefix, longer, exact = (_named(n) for n in ("default", "prefix", "longer", "exact"))
    views.view("inbox.submit")(default)
    views.view("inbox.submit", component_id="ticket:*")(prefix)
    views.view("inbox.submit", component_id="ticket:vip-*")(longer)
    views.view("inbox.submit", component_id="ticket:1")(exact)

    assert views.find("inbox.submit", "ticket:1") is exact
    assert views.find("inbox.submit", "ticket:vip-9") is longer
    assert views.find("inbox.submit", "ticket:2") is prefix
    assert views.find("inbox.submit", "refresh") is default
    assert views.find("inbox.submit", None) is default


def test_find_without_view_raises():
    with pytest.raises(ViewNotFound, match="no canvas view is registered for messenger.live"):
        CanvasViews().find("messenger.live")


def test_registry_rejects_unknown_and_duplicate():
    views = CanvasViews()
    views.view("inbox.initialize")(_named("first"))

    with pytest.raises(ValueError, match="unknown canvas request kind 'inbox.configure'"):
        views.view("inbox.configure")
    with pytest.raises(ValueError, match="already registered"):
        views.view("inbox.initialize")(_named("second"))


WRAPPED = {
    "inbox.initialize": InitializeResponse,
    "inbox.submit": SubmitResponse,
    "messenger.configure": InitializeResponse,
    "messenger.initialize": InitializeResponse,
    "messenger.submit": SubmitResponse,
    "messenger.submit-sheet": SubmitResponse,
    "messenger.live": LiveCanvasResponse,
}
SCHEMAS = {
    InitializeResponse: "initialize_response",
    SubmitResponse: "submit_response",
    LiveCanvasResponse: "live_canvas_response",
}


@pytest.mark.parametrize("kind", sorted(REQUEST_MODELS))
def test_components_wrapped_for_kind(kind):
    response = to_response(kind, [TextComponent(text="hello")])

    assert type(response) is WRAPPED[kind]
    validate(response.to_json(), SCHEMAS[WRAPPED[kind]], corrected=False)


def test_canvas_keeps_stored_data():
    canvas = Canvas(content=Content(components=[TextComponent(text="x")]), stored_data={"page": 2})

    assert to_response("inbox.submit", canvas).to_json()["canvas"]["stored_data"] == {"page": 2}


def test_results_only_for_configure():
    results = ConfigureResults(results={"show": "open"})

    assert to_response("messenger.configure", results) is results
    with pytest.raises(TypeError, match="a messenger.submit view must return components, Content, Canvas or SubmitResponse"):
        to_response("messenger.submit", results)


def test_live_needs_content():
    with pytest.raises(ValueError, match="messenger.live view must return content"):
        to_response("messenger.live", Canvas(content_url="https://example.com/live"))


async def test_inbox_view_with_sheet_rejected():
    views = CanvasViews()

    @views.view("inbox.initialize")
    async def sheet(request, context):
        return [ButtonComponent(id="open", label="Open", action=SheetAction(url="https://example.com/sheet"))]

    request = InboxInitializeRequest(workspace_id="w")
    with pytest.raises(ValueError, match="sheet actions work only in the Messenger"):
        await views.render("inbox.initialize", request, ViewContext(app="default", kind="inbox.initialize", services=None))


async def test_messenger_view_allows_sheet():
    views = CanvasViews()

    @views.view("messenger.live")
    async def sheet(request, context):
        return [ButtonComponent(id="open", label="Open", action=SheetAction(url="https://example.com/sheet"))]

    body = await views.render("messenger.live", InboxInitializeRequest(workspace_id="w"),
                              ViewContext(app="default", kind="messenger.live", services=None))

    assert body["content"]["components"][0]["action"] == {"type": "sheet", "url": "https://example.com/sheet"}


def _documented_example() -> CanvasViews:
    text = (REPO_ROOT / "docs" / "canvas.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    namespace: dict = {}
    exec(compile(code, "docs/canvas.md", "exec"), namespace)
    return namespace["views"]


async def test_documented_example_runs(live_server):
    live_server.app.extensions["canvas_views"] = _documented_example()
    initialize = (INTERCOM_FIXTURES / "canvas.inbox.initialize.request.json").read_bytes()
    submit = json.loads((INTERCOM_FIXTURES / "canvas.inbox.submit.request.json").read_bytes())

    started = await post_canvas(live_server.client, "default", "inbox.initialize", initialize, TEST_CLIENT_SECRET)
    submit.update(component_id="lookup", input_values={"order": "4821"})
    looked_up = await post_canvas(live_server.client, "default", "inbox.submit", submit, TEST_CLIENT_SECRET)
    submit.update(input_values={"order": "abc"})
    rejected = await post_canvas(live_server.client, "default", "inbox.submit", submit, TEST_CLIENT_SECRET)

    assert started.json()["canvas"]["content"]["components"][0]["text"] == "Orders of Riley Example"
    assert looked_up.json()["canvas"]["stored_data"] == {"order": "4821"}
    assert looked_up.json()["canvas"]["content"]["components"][1]["save_state"] == "saved"
    assert rejected.json()["canvas"]["content"]["components"][0]["style"] == "error"
    for response in (started, looked_up, rejected):
        validate(response.json()["canvas"], "canvas_object", corrected=False)
