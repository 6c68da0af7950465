"""Send Canvas Kit requests signed exactly as Intercom signs them (for the simulator and tests)."""

from __future__ import annotations

import json

import httpx

from oauth.signing import BODY_SIGNATURE_HEADER, sign_body

__all__ = ["canvas_path", "post_canvas"]


def canvas_path(app: str, kind: str) -> str:
    """Return the URL path of request `kind` ("inbox.initialize") for `app`."""
    surface, name = kind.split(".", 1)
    return f"/intercom/{app}/canvas/{surface}/{name}"


async def post_canvas(client: httpx.AsyncClient, app: str, kind: str, body: bytes | dict, secret: str) -> httpx.Response:
    """POST `body` to the endpoint of request `kind` with a valid `X-Body-Signature`."""
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {BODY_SIGNATURE_HEADER: sign_body(body, secret), "Content-Type": "application/json"}
    return await client.post(canvas_path(app, kind), content=body, headers=headers)
