"""Click through Canvas Kit flows locally: build Intercom-shaped requests, sign them and post
them to this service's own canvas endpoints over loopback HTTP.

The request bodies follow the shapes in Intercom's Canvas Kit request reference. Inbox
requests carry `admin`, `conversation` and `contact`. Messenger configure carries `admin` and
`context`, and Messenger initialize carries `card_creation_options` and `context`. Messenger
submit carries `user`. A live canvas request carries the `canvas` that contains the
`content_url`, and the viewing `contact`. Every body is signed with `X-Body-Signature`, like
Intercom signs it, so the endpoints check it exactly as in production.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import structlog

from oauth.signing import BODY_SIGNATURE_HEADER, sign_body

__all__ = [
    "START_KINDS",
    "FlowResult",
    "FlowState",
    "PreviewFlow",
]

log = structlog.get_logger(__name__)

Surface = Literal["inbox", "configure", "messenger", "live"]

# Request kinds a developer can start a flow with, and the surface each one shows.
START_KINDS: dict[str, str] = {
    "inbox-initialize": "Inbox initialize",
    "messenger-configure": "Messenger configure",
    "messenger-initialize": "Messenger initialize",
    "live": "Live canvas",
}

WORKSPACE_REGION = "us"
PREVIEW_CONVERSATION_ID = "215470011223344"
_LIVE_PATH = re.compile(r"/intercom/[A-Za-z0-9_.-]+/canvas/messenger/live")
# Follow at most this many hops (configure results to initialize, initialize to a live
# canvas), so a canvas that keeps pointing at itself cannot loop.
MAX_FOLLOW_STEPS = 3


@dataclass
class FlowState:
    """The position in a click-through: the surface shown and the canvas a submit replies to."""

    app: str
    workspace_id: str
    contact_id: str
    surface: Surface
    canvas: dict[str, Any] | None = None
    card_creation_options: dict[str, Any] | None = None
    # The last canvas seen with a `content_url` on this service, without its `content`:
    # what Intercom sends in a live canvas request.
    live_canvas: dict[str, Any] | None = None


@dataclass
class FlowResult:
    """The outcome of one step: the new state, the document to render and what happened."""

    state: FlowState | None
    document: Any = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    exchanges: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict, with the state as a plain object."""
        return asdict(self)


class PreviewFlow:
    """Run Canvas Kit requests against this service as Intercom would send them.

    `base_url` must be the service's own loopback URL; `secret` is the app's current
    client secret, used only to sign the request bodies.
    """

    def __init__(self, client: httpx.AsyncClient, base_url: str, secret: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._secret = secret

    async def start(self, kind: str, app: str, workspace_id: str, contact_id: str) -> FlowResult:
        """Send the first request of a flow (`kind` is a key of START_KINDS) and return its canvas."""
        if kind not in START_KINDS:
            allowed = ", ".join(START_KINDS)
            return FlowResult(state=None, error=f"unknown request kind {kind!r}: use one of {allowed}")

        if kind == "inbox-initialize":
            state = FlowState(app, workspace_id, contact_id, "inbox")
            return await self._send(state, "inbox/initialize", _inbox_body(state))
        if kind == "messenger-configure":
            state = FlowState(app, workspace_id, contact_id, "configure")
            return await self._send(state, "messenger/configure", _configure_body(state))
        if kind == "messenger-initialize":
            state = FlowState(app, workspace_id, contact_id, "messenger", card_creation_options={})
            return await self._send(state, "messenger/initialize", _messenger_initialize_body(state))

        state = FlowState(app, workspace_id, contact_id, "live")
        state.live_canvas = {"content_url": f"{self._base_url}{_live_path(app)}", "stored_data": {}}
        return await self._send(state, "messenger/live", _live_body(state))

    async def open_live(self, state: FlowState) -> FlowResult:
        """Fetch the live canvas of the card, as Intercom does each time a customer views it."""
        if not state.live_canvas:
            return FlowResult(state=state, error="no live canvas yet: run Messenger initialize or Live canvas first")
        return await self._send(_replace(state, surface="live"), "messenger/live", _live_body(state))

    async def submit(self, state: FlowState, component_id: str, input_values: dict[str, Any]) -> FlowResult:
        """Send the submit request for a click on `component_id` in the current canvas."""
        extra = {
            "component_id": component_id,
            "current_canvas": state.canvas or {},
            "input_values": input_values,
        }
        if state.surface == "inbox":
            return await self._send(state, "inbox/submit", {**_inbox_body(state), **extra})
        if state.surface == "configure":
            return await self._send(state, "messenger/configure", {**_configure_body(state), **extra})

        # A live card is shown in the Messenger, so its submits go to the Messenger submit URL.
        body = {
            "workspace_id": state.workspace_id,
            "workspace_region": WORKSPACE_REGION,
            "component_id": component_id,
            "context": _context("conversation"),
            "current_canvas": state.canvas or {},
            "input_values": input_values,
            "user": _contact(state),
        }
        return await self._send(_replace(state, surface="messenger"), "messenger/submit", body)

    async def _send(self, state: FlowState, endpoint: str, body: dict[str, Any], *, hops: int = 0) -> FlowResult:
        result = FlowResult(state=state)
        document = await self._post(state.app, endpoint, body, result)
        if result.error is not None:
            return result

        if not isinstance(document, dict):
            result.error = f"/{endpoint} returned JSON that is not an object: {_shorten(document)}"
            return result
        result.document = document
        return await self._follow(state, endpoint, document, result, hops)

    async def _follow(self, state: FlowState, endpoint: str, document: dict, result: FlowResult, hops: int) -> FlowResult:
        """Apply a response to the state, following results and live canvases like Intercom does."""
        if "results" in document and "canvas" not in document:
            result.notes.append("Configure finished with results; the preview now sends Messenger initialize "
                                "with them as card_creation_options, as Intercom does.")
            options = document["results"] if isinstance(document["results"], dict) else {}
            next_state = _replace(state, surface="messenger", canvas=None, card_creation_options=options)
            return await self._hop(next_state, "messenger/initialize", _messenger_initialize_body(next_state), result, hops)

        if endpoint == "messenger/live":
            if not isinstance(document.get("content"), dict):
                result.error = 'the live canvas endpoint must return {"content": {...}} without a canvas wrapper'
                return result
            # NOTE: Intercom does not document the current_canvas of a submit from a live card.
            # The preview sends the content_url canvas together with the content it fetched.
            canvas = {**(state.live_canvas or {}), "content": document["content"]}
            result.state = _replace(state, surface="live", canvas=canvas)
            return result

        canvas = document.get("canvas")
        if not isinstance(canvas, dict):
            result.error = f'/{endpoint} returned no "canvas" object: {_shorten(document)}'
            return result
        result.state = _replace(state, canvas=canvas)
        if document.get("event") is not None:
            result.notes.append("The response carries event " + json.dumps(document["event"]) + ".")
        if document.get("card_creation_options") is not None:
            result.notes.append("The response carries card_creation_options: Intercom would now call "
                                "Messenger initialize with them and insert the card into the reply.")

        content_url = canvas.get("content_url")
        if not isinstance(content_url, str):
            return result
        if not _LIVE_PATH.fullmatch(urlsplit(content_url).path):
            result.notes.append(f"The canvas is live at {content_url}; the preview fetches only this "
                                "service's own /intercom/{app}/canvas/messenger/live URL.")
            return result

        live_canvas = {key: value for key, value in canvas.items() if key != "content"}
        result.state = _replace(result.state, live_canvas=live_canvas)
        if canvas.get("content") is not None:
            result.notes.append("The canvas also has a content_url: press Show live card to fetch it "
                                "as Intercom does each time a customer views the card.")
            return result
        result.notes.append("The canvas is live: the preview fetches its content_url as Intercom does.")
        return await self._hop(_replace(result.state, surface="live"), "messenger/live",
                               _live_body(result.state), result, hops)

    async def _hop(self, state: FlowState, endpoint: str, body: dict, result: FlowResult, hops: int) -> FlowResult:
        if hops >= MAX_FOLLOW_STEPS:
            result.error = f"stopped after {MAX_FOLLOW_STEPS} follow-up requests; the flow keeps redirecting"
            return result
        follow = await self._send(state, endpoint, body, hops=hops + 1)
        follow.notes[:0] = result.notes
        follow.exchanges[:0] = result.exchanges
        return follow

    async def _post(self, app: str, endpoint: str, body: dict[str, Any], result: FlowResult) -> Any:
        """Sign and post `body`; record the exchange; set `result.error` on any failure."""
        path = f"/intercom/{app}/canvas/{endpoint}"
        raw = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", BODY_SIGNATURE_HEADER: sign_body(raw, self._secret)}
        exchange: dict[str, Any] = {"method": "POST", "path": path, "request": body}
        result.exchanges.append(exchange)

        try:
            response = await self._client.post(self._base_url + path, content=raw, headers=headers)
        except httpx.HTTPError as error:
            log.warning("canvas_preview.request_failed", app=app, workspace_id=body.get("workspace_id"),
                        path=path, error=str(error))
            result.error = f"could not reach {self._base_url}{path}: {error}"
            return None

        exchange["status"] = response.status_code
        try:
            document = response.json()
        except ValueError:
            exchange["response"] = response.text[:2000]
            result.error = f"{path} returned HTTP {response.status_code} with a body that is not JSON: {response.text[:200]}"
            return None
        exchange["response"] = document
        if response.status_code != 200:
            result.error = f"{path} returned HTTP {response.status_code}: {_shorten(document)}"
            return None
        return document


def _replace(state: FlowState, **changes: Any) -> FlowState:
    return FlowState(**{**asdict(state), **changes})


def _live_path(app: str) -> str:
    return f"/intercom/{app}/canvas/messenger/live"


def _inbox_body(state: FlowState) -> dict[str, Any]:
    return {
        "workspace_id": state.workspace_id,
        "workspace_region": WORKSPACE_REGION,
        "admin": _admin(),
        "conversation": _conversation(state.contact_id),
        "contact": _contact(state),
    }


def _configure_body(state: FlowState) -> dict[str, Any]:
    return {
        "workspace_id": state.workspace_id,
        "workspace_region": WORKSPACE_REGION,
        "admin": _admin(),
        "context": _context("conversation"),
    }


def _messenger_initialize_body(state: FlowState) -> dict[str, Any]:
    return {
        "card_creation_options": state.card_creation_options or {},
        "workspace_id": state.workspace_id,
        "workspace_region": WORKSPACE_REGION,
        "context": _context("conversation"),
    }


def _live_body(state: FlowState) -> dict[str, Any]:
    return {
        "workspace_id": state.workspace_id,
        "workspace_region": WORKSPACE_REGION,
        "canvas": state.live_canvas or {},
        "context": _context("home"),
        "contact": _contact(state),
    }


def _admin() -> dict[str, Any]:
    return {
        "type": "admin",
        "id": "0",
        "name": "Canvas preview",
        "email": "canvas-preview@example.com",
        "job_title": None,
        "away_mode_enabled": False,
        "away_mode_reassign": False,
        "has_inbox_seat": True,
        "team_ids": [],
        "avatar": None,
    }


def _contact(state: FlowState) -> dict[str, Any]:
    return {
        "type": "contact",
        "id": state.contact_id,
        "workspace_id": state.workspace_id,
        "external_id": None,
        "role": "user",
        "email": None,
        "name": None,
        "custom_attributes": {},
    }


def _conversation(contact_id: str) -> dict[str, Any]:
    return {
        "type": "conversation",
        "id": PREVIEW_CONVERSATION_ID,
        "state": "open",
        "open": True,
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": contact_id}]},
        "custom_attributes": {},
    }


def _context(location: str) -> dict[str, Any]:
    context: dict[str, Any] = {
        "location": location,
        "locale": "en",
        "messenger_action_colour": "#1f73b7",
        "messenger_background_colour": "#f4f6f8",
    }
    if location == "conversation":
        context["conversation_id"] = int(PREVIEW_CONVERSATION_ID)
    return context


def _shorten(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"
