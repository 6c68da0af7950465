"""Canvas endpoints over real HTTP: signatures, malformed bodies, shared fixtures, error canvases."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import structlog.testing
from pymongo import AsyncMongoClient

from canvas.client import post_canvas
from canvas.components import TextComponent
from canvas.views import CanvasViews
from oauth.signing import sign_body
from tests.conftest import INTERCOM_FIXTURES, TEST_CLIENT_SECRET, free_port
from tests.openapi import validate
from webhooks.readmodel import ActivityReader

SIGNATURES = json.loads((INTERCOM_FIXTURES / "signatures.json").read_text())["files"]

# Request fixture -> (request kind, response schema).
REQUEST_FIXTURES = {
    "canvas.inbox.initialize.request.json": ("inbox.initialize", "initialize_response"),
    "canvas.inbox.submit.request.json": ("inbox.submit", "submit_response"),
    "canvas.messenger.configure.request.json": ("messenger.configure", "configure_response"),
    "canvas.messenger.configure.submit.request.json": ("messenger.configure", "configure_response"),
    "canvas.messenger.initialize.request.json": ("messenger.initialize", "initialize_response"),
    "canvas.messenger.submit.request.json": ("messenger.submit", "submit_response"),
    "canvas.messenger.submit-sheet.request.json": ("messenger.submit-sheet", "submit_response"),
    "canvas.live.request.json": ("messenger.live", "live_canvas_response"),
}
INBOX_BODY = (INTERCOM_FIXTURES / "canvas.inbox.initialize.request.json").read_bytes()
ERROR_TEXT = "This view could not be loaded right now."


def _path(kind: str, app: str = "default") -> str:
    surface, name = kind.split(".")
    return f"/intercom/{app}/canvas/{surface}/{name}"


def _assert_error_canvas(response, schema: str = "initialize_response") -> None:
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    validate(body, schema, corrected=False)
    components = body["canvas"]["content"]["components"] if "canvas" in body else body["content"]["components"]
    assert components[0] == {"type": "text", "text": ERROR_TEXT, "style": "error"}
    assert components[1]["id"] == "retry"
    assert components[1]["action"] == {"type": "submit"}


def test_fixture_table_lists_every_request():
    on_disk = {path.name for path in INTERCOM_FIXTURES.glob("canvas.*.request.json")}

    assert on_disk == set(REQUEST_FIXTURES)


@pytest.mark.parametrize("name", sorted(REQUEST_FIXTURES))
async def test_request_fixture_gets_valid_response(live_server, name):
    kind, schema = REQUEST_FIXTURES[name]
    body = (INTERCOM_FIXTURES / name).read_bytes()
    headers = {SIGNATURES[name]["header"]: SIGNATURES[name]["value"], "Content-Type": "application/json"}

    response = await live_server.client.post(_path(kind), content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    validate(response.json(), schema, corrected=False)
    assert "retry" not in response.text


MALFORMED_SIGNATURES = [
    (None, "X-Body-Signature header is missing"),
    ("", "X-Body-Signature header is missing"),
    ("abc", "X-Body-Signature header must be 64 hex characters"),
    ("sha256=" + "0" * 64, "X-Body-Signature header must be 64 hex characters"),
    ("z" * 64, "X-Body-Signature header must be 64 hex characters"),
    ("é" * 64, "X-Body-Signature header contains non-ASCII characters"),
    ("0" * 64, "X-Body-Signature does not match the request body"),
    (sign_body(INBOX_BODY, "another-secret"), "X-Body-Signature does not match the request body"),
    (sign_body(INBOX_BODY + b" ", TEST_CLIENT_SECRET), "X-Body-Signature does not match the request body"),
]


@pytest.mark.parametrize(("header", "message"), MALFORMED_SIGNATURES, ids=range(len(MALFORMED_SIGNATURES)))
async def test_bad_signature_answers_401(live_server, header, message):
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-Body-Signature"] = header.encode("utf-8")

    response = await live_server.client.post(_path("inbox.initialize"), content=INBOX_BODY, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": message}


MALFORMED_BODIES = [
    (b"{not json", "request body is not valid JSON"),
    (b"\xff\xfe", "request body is not valid JSON"),
    (b"[1, 2]", "request body must be a JSON object, got list"),
    (b"{}", "invalid inbox.initialize request: workspace_id: Field required"),
    (b'{"workspace_id": ""}', "invalid inbox.initialize request: workspace_id: String should have at least 1 character"),
    (b'{"workspace_id": "ws7k2p9q", "contact": "riley"}', "invalid inbox.initialize request: contact"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED_BODIES)
async def test_malformed_body_answers_400(live_server, body, message):
    headers = {"X-Body-Signature": sign_body(body, TEST_CLIENT_SECRET), "Content-Type": "application/json"}

    response = await live_server.client.post(_path("inbox.initialize"), content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


async def test_unknown_app_answers_404(live_server):
    response = await post_canvas(live_server.client, "no-such-app", "inbox.initialize", INBOX_BODY, TEST_CLIENT_SECRET)

    assert response.status_code == 404
    assert "unknown app 'no-such-app'" in response.json()["error"]


async def test_unknown_endpoint_answers_404(live_server):
    response = await post_canvas(live_server.client, "default", "inbox.configure", INBOX_BODY, TEST_CLIENT_SECRET)

    assert response.status_code == 404
    assert "unknown canvas endpoint inbox/configure" in response.json()["error"]


async def test_older_app_id_shape_accepted(live_server):
    body = json.loads(INBOX_BODY)
    body["app_id"] = body.pop("workspace_id")
    body["customer"] = body.pop("contact")

    response = await post_canvas(live_server.client, "default", "inbox.initialize", body, TEST_CLIENT_SECRET)

    assert response.status_code == 200
    validate(response.json(), "initialize_response", corrected=False)
    assert "Customer activity" in response.text


def _install_views(live_server) -> CanvasViews:
    views = CanvasViews()
    live_server.app.extensions["canvas_views"] = views
    return views


async def test_raising_view_yields_error_canvas(live_server):
    views = _install_views(live_server)

    @views.view("inbox.initialize")
    async def broken(request, context):
        raise RuntimeError("the view is broken")

    response = await post_canvas(live_server.client, "default", "inbox.initialize", INBOX_BODY, TEST_CLIENT_SECRET)

    _assert_error_canvas(response)


async def test_sleeping_view_yields_error_canvas_in_time(start_server):
    server = await start_server(CANVAS_TIME_BUDGET_SECONDS=0.3)
    views = _install_views(server)

    @views.view("messenger.live")
    async def slow(request, context):
        await asyncio.sleep(5)
        return [TextComponent(text="too late")]

    body = (INTERCOM_FIXTURES / "canvas.live.request.json").read_bytes()
    started = time.monotonic()
    response = await post_canvas(server.client, "default", "messenger.live", body, TEST_CLIENT_SECRET)
    elapsed = time.monotonic() - started

    _assert_error_canvas(response, "live_canvas_response")
    assert elapsed < 1.0


async def test_default_budget_below_one_second(live_server):
    views = _install_views(live_server)

    @views.view("inbox.initialize")
    async def slow(request, context):
        await asyncio.sleep(5)

    started = time.monotonic()
    response = await post_canvas(live_server.client, "default", "inbox.initialize", INBOX_BODY, TEST_CLIENT_SECRET)

    _assert_error_canvas(response)
    assert live_server.settings.CANVAS_TIME_BUDGET_SECONDS < 1.0
    # Generous bound: the suite shares this machine, and the budget itself is checked above.
    assert time.monotonic() - started < 3.0


async def test_database_down_yields_error_canvas(start_server):
    live_server = await start_server(CANVAS_TIME_BUDGET_SECONDS=0.3)
    # A client for a loopback port where no server listens simulates a database that is down.
    dead = AsyncMongoClient(f"mongodb://127.0.0.1:{free_port()}", serverSelectionTimeoutMS=5000, tz_aware=True)
    live_server.services.reader = ActivityReader(dead.intercom_app)
    try:
        started = time.monotonic()
        response = await post_canvas(live_server.client, "default", "inbox.initialize", INBOX_BODY, TEST_CLIENT_SECRET)
        elapsed = time.monotonic() - started
    finally:
        await dead.close()

    _assert_error_canvas(response)
    assert elapsed < 1.0


async def test_wrong_return_type_yields_error_canvas(live_server):
    views = _install_views(live_server)

    @views.view("inbox.initialize")
    async def wrong(request, context):
        return {"canvas": "not a model"}

    response = await post_canvas(live_server.client, "default", "inbox.initialize", INBOX_BODY, TEST_CLIENT_SECRET)

    _assert_error_canvas(response)


async def test_oversized_stored_data_yields_error_canvas(live_server):
    views = _install_views(live_server)

    @views.view("inbox.initialize")
    async def bulky(request, context):
        from canvas.components import Canvas, Content

        return Canvas(content=Content(components=[TextComponent(text="hi")]), stored_data={"blob": "x" * 70_000})

    response = await post_canvas(live_server.client, "default", "inbox.initialize", INBOX_BODY, TEST_CLIENT_SECRET)

    assert response.status_code == 200
    assert response.json()["canvas"]["content"]["components"][0]["text"] == "This view has too much data to show."


async def test_retry_button_reaches_view(live_server):
    body = json.loads((INTERCOM_FIXTURES / "canvas.inbox.submit.request.json").read_bytes())
    body["component_id"] = "retry"

    response = await post_canvas(live_server.client, "default", "inbox.submit", body, TEST_CLIENT_SECRET)

    assert response.status_code == 200
    validate(response.json(), "submit_response", corrected=False)
    assert "Customer activity" in response.text


async def test_metrics_count_canvas_outcomes(live_server):
    await post_canvas(live_server.client, "default", "inbox.initialize", INBOX_BODY, TEST_CLIENT_SECRET)
    await live_server.client.post(_path("inbox.initialize"), content=INBOX_BODY)

    metrics = (await live_server.client.get("/metrics")).text

    assert 'canvas_request_seconds_count{endpoint="inbox.initialize",outcome="ok"}' in metrics
    assert 'canvas_request_seconds_count{endpoint="inbox.initialize",outcome="unauthorized"}' in metrics


async def test_unknown_paths_share_metric_label(live_server):
    for name in ("random-1", "random-2"):
        await post_canvas(live_server.client, "default", f"inbox.{name}", INBOX_BODY, TEST_CLIENT_SECRET)

    metrics = (await live_server.client.get("/metrics")).text

    assert 'canvas_request_seconds_count{endpoint="unknown",outcome="not_found"}' in metrics
    assert "random-1" not in metrics


async def test_view_failure_logged_with_ids(live_server):
    views = _install_views(live_server)

    @views.view("inbox.initialize")
    async def broken(request, context):
        raise RuntimeError("the view is broken")

    with structlog.testing.capture_logs() as logs:
        await post_canvas(live_server.client, "default", "inbox.initialize", INBOX_BODY, TEST_CLIENT_SECRET)

    [entry] = [entry for entry in logs if entry["event"] == "canvas.view_failed"]
    assert entry["workspace_id"] == "ws7k2p9q"
    assert entry["kind"] == "inbox.initialize"
    assert entry["app"] == "default"


async def test_bad_body_logged_with_kind(live_server):
    body = b"{not json"
    headers = {"X-Body-Signature": sign_body(body, TEST_CLIENT_SECRET)}

    with structlog.testing.capture_logs() as logs:
        await live_server.client.post(_path("messenger.submit"), content=body, headers=headers)

    [entry] = [entry for entry in logs if entry["event"] == "canvas.bad_request"]
    assert entry["kind"] == "messenger.submit"
    assert entry["error"].startswith("request body is not valid JSON")
