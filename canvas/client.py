"""Send Canvas Kit requests signed exactly as Intercom signs them (for the simulator and tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from oauth.signing import BODY_SIGNATURE_HEADER, sign_body

__all__ = ["canvas_path", "post_canvas", "request_from_file"]


def canvas_path(app: str, kind: str) -> str:
    """Return the URL path of request `kind` ("inbox.initialize") for `app`."""
    surface, name = kind.split(".", 1)
    return f"/intercom/{app}/canvas/{surface}/{name}"


def request_from_file(path: Path, **replacements: Any) -> bytes:
    """Return the request body in `path` with top-level fields replaced, as JSON bytes.

    Without replacements the file's bytes are returned unchanged, so its signature still holds.
    """
    raw = path.read_bytes()
    if not replacements:
        return raw
    body = json.loads(raw)
    body.update(replacements)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


async def post_canvas(client: httpx.AsyncClient, app: str, kind: str, body: bytes | dict, secret: str) -> httpx.Response:
    """POST `body` to the endpoint of request `kind` with a valid `X-Body-Signature`."""
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {BODY_SIGNATURE_HEADER: sign_body(body, secret), "Content-Type": "application/json"}
    return await client.post(canvas_path(app, kind), content=body, headers=headers)
