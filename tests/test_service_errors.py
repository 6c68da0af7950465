"""Errors outside any route's own checks still return JSON naming the problem, never a 500."""

import json

import pytest

from oauth.signing import BODY_SIGNATURE_HEADER, sign_body
from tests.conftest import TEST_CLIENT_SECRET


def deeply_nested(depth: int) -> bytes:
    return ('{"workspace_id": "ws7k2p9q", "x": ' + "[" * depth + "]" * depth + "}").encode()


@pytest.mark.parametrize(
    "path",
    [
        "/intercom/default/canvas/inbox/initialize",
        "/intercom/default/canvas/messenger/live",
        "/intercom/default/uninstall",
        "/intercom/default/health-check",
    ],
)
async def test_deep_nesting_gets_400(live_server, path):
    body = deeply_nested(5000)
    response = await live_server.client.post(
        path, content=body, headers={BODY_SIGNATURE_HEADER: sign_body(body, TEST_CLIENT_SECRET)}
    )
    assert response.status_code == 400
    assert "nested too deeply" in json.dumps(response.json())


async def test_unknown_path_gets_json_404(live_server):
    response = await live_server.client.get("/no/such/page")
    assert response.status_code == 404
    assert "/no/such/page" in response.json()["error"]


async def test_wrong_method_names_allowed(live_server):
    response = await live_server.client.get("/intercom/default/canvas/inbox/initialize")
    assert response.status_code == 405
    assert "POST" in response.json()["error"]


async def test_oversized_canvas_body_names_limit(live_server):
    limit = live_server.app.config["MAX_CONTENT_LENGTH"]
    response = await live_server.client.post(
        "/intercom/default/canvas/inbox/initialize",
        content=b"x" * (limit + 1),
        headers={BODY_SIGNATURE_HEADER: "0" * 64},
    )
    assert response.status_code == 413
    assert str(limit) in response.json()["error"]
