"""Admin pages: the login form and the interactive canvas preview at `/admin/canvas-preview`.

Every admin route is open when APP_ENV is development and ADMIN_PASSWORD is unset, but only
under loopback or PUBLIC_URL host names. Otherwise it needs the session cookie that
`/admin/login` sets: HttpOnly, SameSite=Lax, Secure when PUBLIC_URL is https, and valid for
ADMIN_SESSION_SECONDS (see app.admin_auth).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import structlog
from pydantic import BaseModel, Field, ValidationError
from quart import Blueprint, Response, current_app, redirect, request

from app.admin_auth import (
    LOOPBACK_HOSTS,
    SESSION_COOKIE,
    LoginThrottle,
    is_protected,
    password_matches,
    safe_next,
    session_is_valid,
    session_value,
)
from canvas.preview import CanvasDocumentError, describe_stored_data, parse_canvas_document, render_columns, render_page
from canvas.preview_flow import START_KINDS, FlowResult, FlowState, PreviewFlow

__all__ = ["blueprint"]

log = structlog.get_logger(__name__)

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

PREVIEW_PATH = "/admin/canvas-preview"
APP_KEY_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
# Timeout for posts to our own canvas endpoints. They return within their own time budget,
# so this only bounds a hung server.
OWN_REQUEST_TIMEOUT_SECONDS = 10.0
_OPEN_PATHS = ("/admin/login",)
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _RunRequest(BaseModel):
    kind: Literal[tuple(START_KINDS)]  # type: ignore[valid-type]
    app: str = Field(pattern=APP_KEY_PATTERN)
    workspace_id: str = Field(min_length=1, max_length=128)
    contact_id: str = Field(min_length=1, max_length=128)


class _StateModel(BaseModel):
    app: str = Field(pattern=APP_KEY_PATTERN)
    workspace_id: str = Field(min_length=1, max_length=128)
    contact_id: str = Field(min_length=1, max_length=128)
    surface: Literal["inbox", "configure", "messenger", "live"]
    canvas: dict[str, Any] | None = None
    card_creation_options: dict[str, Any] | None = None
    live_canvas: dict[str, Any] | None = None


class _SubmitRequest(BaseModel):
    state: _StateModel
    component_id: str = Field(min_length=1, max_length=256)
    input_values: dict[str, Any] = {}


class _LiveRequest(BaseModel):
    state: _StateModel


class _RenderRequest(BaseModel):
    json_text: str = Field(alias="json", min_length=1)


# Access control


@blueprint.before_request
async def require_session() -> Response | None:
    """Let a request through when the admin is open or the session cookie is valid."""
    settings = current_app.config["SETTINGS"]
    if not is_protected(settings):
        return _check_open_admin_host(settings)
    if request.path in _OPEN_PATHS:
        return None
    if not settings.ADMIN_PASSWORD:
        return _json_error(503, "ADMIN_PASSWORD is not set: set it to use the admin pages in production")
    if session_is_valid(settings, request.cookies.get(SESSION_COOKIE)):
        return None

    if request.method == "GET":
        return redirect(f"/admin/login?next={request.path}", 303)
    return _json_error(401, "admin session is missing or expired: log in at /admin/login")


def _check_open_admin_host(settings) -> Response | None:
    """Reject an open admin reached under another host name, which DNS rebinding would cause."""
    allowed = {*LOOPBACK_HOSTS, urlsplit(settings.public_url).hostname}
    host = urlsplit(f"//{request.host}").hostname
    if host in allowed:
        return None
    log.warning("admin.host_rejected", host=request.host)
    return _json_error(
        403,
        f"the admin pages without ADMIN_PASSWORD are served only on loopback or PUBLIC_URL hosts, "
        f"not {request.host!r}: set ADMIN_PASSWORD to use them from other hosts",
    )


@blueprint.get("/login")
async def login_form() -> Response:
    """Show the password form."""
    return _html(_login_page(request.args.get("next", PREVIEW_PATH), message=""))


@blueprint.post("/login")
async def login() -> Response:
    """Check the password in constant time and set the session cookie."""
    settings = current_app.config["SETTINGS"]
    form = await request.form
    target = safe_next(form.get("next", PREVIEW_PATH))
    if not is_protected(settings):
        return redirect(target, 303)
    if not settings.ADMIN_PASSWORD:
        return _json_error(503, "ADMIN_PASSWORD is not set: set it to use the admin pages in production")

    client = request.remote_addr or "unknown"
    throttle: LoginThrottle = current_app.extensions.setdefault("admin_login_throttle", LoginThrottle())
    wait_seconds = throttle.retry_after(client)
    if wait_seconds:
        log.warning("admin.login_throttled", remote=client, retry_after=wait_seconds)
        page = _login_page(target, message=f"Too many failed logins. Try again in {wait_seconds} seconds.")
        return _html(page, status=429, headers={"Retry-After": str(wait_seconds)})

    if not password_matches(form.get("password", ""), settings.ADMIN_PASSWORD):
        throttle.record_failure(client)
        log.warning("admin.login_failed", remote=client)
        return _html(_login_page(target, message="Wrong password. Try again."), status=401)

    throttle.reset(client)
    log.info("admin.login", remote=client)
    response = redirect(target, 303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(settings),
        max_age=settings.ADMIN_SESSION_SECONDS,
        path="/admin",
        httponly=True,
        samesite="Lax",
        secure=settings.public_url.startswith("https://"),
    )
    return response


@blueprint.post("/logout")
async def logout() -> Response:
    """End the admin session."""
    response = redirect("/admin/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


# Canvas preview


@blueprint.get("/canvas-preview")
async def canvas_preview() -> Response:
    """Serve the preview page with the request picker."""
    defaults = await _default_ids()
    page = render_page(None, title="Canvas preview", mode="admin", controls=_controls(defaults))
    return _html(page)


@blueprint.post("/canvas-preview/run")
async def run_flow() -> Response:
    """Start a flow: send the chosen signed request to our canvas endpoint and render the canvas."""
    payload = await _json_body(_RunRequest)
    if isinstance(payload, Response):
        return payload

    return await _run_step(
        payload.app,
        lambda flow: flow.start(payload.kind, payload.app, payload.workspace_id, payload.contact_id),
        "canvas_preview.run",
        workspace_id=payload.workspace_id,
        kind=payload.kind,
    )


@blueprint.post("/canvas-preview/submit")
async def submit_flow() -> Response:
    """Send the signed submit request for a click in the rendered canvas."""
    payload = await _json_body(_SubmitRequest)
    if isinstance(payload, Response):
        return payload

    state = FlowState(**payload.state.model_dump())
    return await _run_step(
        state.app,
        lambda flow: flow.submit(state, payload.component_id, payload.input_values),
        "canvas_preview.submit",
        workspace_id=state.workspace_id,
        surface=state.surface,
        component_id=payload.component_id,
    )


@blueprint.post("/canvas-preview/live")
async def open_live() -> Response:
    """Send the signed live canvas request for the card's content_url and render the content."""
    payload = await _json_body(_LiveRequest)
    if isinstance(payload, Response):
        return payload

    state = FlowState(**payload.state.model_dump())
    if not state.live_canvas:
        return _json_error(400, "no live canvas yet: run Messenger initialize or Live canvas first")
    return await _run_step(state.app, lambda flow: flow.open_live(state), "canvas_preview.live",
                           workspace_id=state.workspace_id)


@blueprint.post("/canvas-preview/render")
async def render_json() -> Response:
    """Render pasted canvas JSON without sending any request."""
    payload = await _json_body(_RenderRequest)
    if isinstance(payload, Response):
        return payload

    try:
        document = json.loads(payload.json_text)
    except json.JSONDecodeError as error:
        return _json_error(400, f"the pasted text is not valid JSON: {error}")
    except RecursionError:
        return _json_error(400, "the pasted JSON is nested too deeply to parse")
    try:
        canvas = parse_canvas_document(document)
    except CanvasDocumentError as error:
        return _json_error(400, f"the pasted JSON contains no canvas: {error}")
    return _json({
        "columns_html": render_columns(canvas),
        "notes": canvas.notes,
        "document": document,
        "stored_data": describe_stored_data(canvas.stored_data),
    })


# Helpers


async def _run_step(
    app_key: str,
    step: Callable[[PreviewFlow], Awaitable[FlowResult]],
    event: str,
    **log_fields: Any,
) -> Response:
    """Run one flow step for `app_key` with a loopback client, log it and render the result."""
    services = current_app.extensions["intercom"]
    registered = await services.apps.get(app_key)
    if registered is None:
        return _json_error(404, f"app {app_key!r} is not registered: use 'default' or register it with intercom-app apps")
    if not registered.client_secrets:
        return _json_error(409, f"app {app_key!r} has no client secret, so the preview cannot sign requests for it")

    # trust_env=False: proxy variables must never route these loopback requests elsewhere.
    async with httpx.AsyncClient(timeout=OWN_REQUEST_TIMEOUT_SECONDS, trust_env=False) as client:
        flow = PreviewFlow(client, _own_base_url(), registered.client_secrets[0])
        result = await step(flow)

    log.info(event, app=app_key, error=result.error, **log_fields)
    return _flow_response(result)


def _own_base_url() -> str:
    """Return the loopback URL of the server that received this request."""
    server = request.scope.get("server") or (None, None)
    host, port = server
    settings = current_app.config["SETTINGS"]
    if not isinstance(port, int):
        host, port = settings.HOST, settings.PORT
    if host in (None, "", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _flow_response(result: FlowResult) -> Response:
    data = result.to_json()
    if result.error is None and result.document is not None:
        canvas = parse_canvas_document(result.document)
        data["columns_html"] = render_columns(canvas)
        data["stored_data"] = describe_stored_data(canvas.stored_data)
        data["notes"] = [*result.notes, *canvas.notes]
    return _json(data, status=502 if result.error else 200)


async def _json_body(model: type[BaseModel]) -> Any:
    if request.mimetype != "application/json":
        return _json_error(415, f"send the body as application/json, not {request.mimetype or 'no content type'}")
    try:
        body = await request.get_json(silent=True)
    except RecursionError:
        return _json_error(400, "the body is nested too deeply to parse")
    if not isinstance(body, dict):
        return _json_error(400, "the body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        return _json_error(400, f"invalid request: {problems}")


async def _default_ids() -> dict[str, str]:
    """Return a workspace and contact id from the projections, so the form starts filled in."""
    services = current_app.extensions["intercom"]
    document = await services.database.tickets.find_one({"app": "default"}, {"workspace_id": 1, "contact_ids": 1})
    if not document:
        return {"workspace_id": "", "contact_id": ""}
    contact_ids = document.get("contact_ids") or [""]
    return {"workspace_id": str(document.get("workspace_id", "")), "contact_id": str(contact_ids[0])}


def _controls(defaults: dict[str, str]) -> str:
    options = "".join(f'<option value="{kind}">{escape(label)}</option>' for kind, label in START_KINDS.items())
    return f"""<form id="run-form" class="controls">
<label>Request kind<select name="kind">{options}</select></label>
<label>App key<input name="app" value="default" required></label>
<label>Workspace id<input name="workspace_id" value="{escape(defaults['workspace_id'])}" required></label>
<label>Contact id<input name="contact_id" value="{escape(defaults['contact_id'])}" size="28" required></label>
<button type="submit" id="run">Run</button>
<button type="button" id="open-live" disabled>Show live card</button>
<p class="hint">Pick a request kind and a contact, then press Run. Each request is signed with the
app's client secret and posted to this service's own canvas endpoint; clicks in the canvas post back.</p>
</form>
<form id="render-form" class="controls">
<details><summary>Render canvas JSON without sending a request</summary>
<textarea name="json" placeholder='{{"canvas": {{"content": {{"components": []}}}}}}'></textarea>
<button type="submit" id="render">Render</button></details>
</form>"""


def _login_page(target: str, *, message: str) -> str:
    error = f'<p class="error">{escape(message)}</p>' if message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; form-action 'self'">
<title>Admin login</title>
<style>body{{font:14px system-ui,sans-serif;background:#eef0f3;display:flex;justify-content:center;padding-top:80px}}
form{{background:#fff;padding:24px;border-radius:8px;display:flex;flex-direction:column;gap:10px;width:280px}}
.error{{color:#d4351c;margin:0}}input,button{{font:inherit;padding:6px 8px}}</style></head>
<body><form method="post" action="/admin/login"><h1>Admin login</h1>{error}
<input type="hidden" name="next" value="{escape(safe_next(target))}">
<label>Password <input type="password" name="password" autocomplete="current-password" autofocus required></label>
<button type="submit">Log in</button></form></body></html>"""


def _html(page: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(page, status=status, content_type="text/html; charset=utf-8",
                    headers={**_SECURITY_HEADERS, **(headers or {})})


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json", headers=_SECURITY_HEADERS)


def _json_error(status: int, message: str) -> Response:
    return _json({"error": message}, status=status)
