"""HTTP routes of Canvas Kit: `POST /intercom/<app>/canvas/{inbox,messenger}/<request kind>`.

Order of checks: unknown app 404, `X-Body-Signature` 401, malformed body 400. Intercom has
no error protocol for canvases, so every later failure gets a 200 response with the error
canvas: a view raising, the database down, a view slower than CANVAS_TIME_BUDGET_SECONDS,
or a canvas too large to fit.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import structlog
from pydantic import ValidationError
from quart import Blueprint, Response, current_app, request

from canvas import inbox, messenger  # noqa: F401  (registers the built-in views)
from canvas.fallback import error_body
from canvas.limits import fit_body
from canvas.metrics import CANVAS_LATENCY
from canvas.views import REQUEST_MODELS, CanvasViews, ViewContext, default_views
from oauth.signing import BODY_SIGNATURE_HEADER, SignatureError, verify_body_signature

__all__ = ["VIEWS_EXTENSION", "blueprint"]

log = structlog.get_logger(__name__)

blueprint = Blueprint("canvas", __name__)

# `app.extensions[VIEWS_EXTENSION]` replaces the built-in views with another CanvasViews.
VIEWS_EXTENSION = "canvas_views"
# At most one rejected-signature warning per app in this many seconds; the rest are counted.
SIGNATURE_LOG_INTERVAL_SECONDS = 10.0
_signature_log_state: dict[str, tuple[float, int]] = {}


@blueprint.post("/intercom/<app_key>/canvas/<any(inbox, messenger):surface>/<name>")
async def canvas_request(app_key: str, surface: str, name: str) -> Response:
    """Verify and parse one Canvas Kit request, then return the view's canvas or the error canvas."""
    started = time.monotonic()
    kind = f"{surface}.{name}"
    response, outcome = await _answer(app_key, kind, started)
    # Unknown paths share one label value, so random URLs cannot add metric series.
    endpoint = kind if kind in REQUEST_MODELS else "unknown"
    CANVAS_LATENCY.labels(endpoint=endpoint, outcome=outcome).observe(time.monotonic() - started)
    return response


async def _answer(app_key: str, kind: str, started: float) -> tuple[Response, str]:
    services = current_app.extensions["intercom"]
    budget = services.settings.CANVAS_TIME_BUDGET_SECONDS
    if kind not in REQUEST_MODELS:
        known = ", ".join(path.replace(".", "/") for path in REQUEST_MODELS)
        return _error(404, f"unknown canvas endpoint {kind.replace('.', '/')}; use one of {known}"), "not_found"

    body = await request.get_data()
    try:
        registered = await asyncio.wait_for(services.apps.get(app_key), budget)
    except Exception as error:  # the app registry reads the database; show the error canvas
        log.error("canvas.app_lookup_failed", app=app_key, kind=kind, error=repr(error))
        return _json(error_body(kind)), "error_canvas"
    if registered is None:
        return _error(404, f"unknown app {app_key!r}; register it before pointing Intercom at this URL"), "not_found"

    try:
        verify_body_signature(body, request.headers.get(BODY_SIGNATURE_HEADER), registered.client_secrets)
    except SignatureError as error:
        _log_rejected_signature(app_key, kind, str(error))
        return _error(401, str(error)), "unauthorized"

    try:
        parsed = _parse(kind, body)
    except ValueError as error:
        log.warning("canvas.bad_request", app=app_key, kind=kind, error=str(error))
        return _error(400, str(error)), "bad_request"

    views: CanvasViews = current_app.extensions.get(VIEWS_EXTENSION, default_views)
    context = ViewContext(app=app_key, kind=kind, services=services, deadline=started + budget)
    remaining = max(budget - (time.monotonic() - started), 0.0)
    try:
        rendered = await asyncio.wait_for(views.render(kind, parsed, context), remaining)
        fitted = fit_body(rendered)
    except TimeoutError:
        log.error("canvas.view_timed_out", app=app_key, workspace_id=parsed.workspace_id, kind=kind, budget_seconds=budget)
        return _json(error_body(kind)), "error_canvas"
    except Exception:  # a view must never turn into Intercom's "Something went wrong"
        log.exception("canvas.view_failed", app=app_key, workspace_id=parsed.workspace_id, kind=kind)
        return _json(error_body(kind)), "error_canvas"

    if fitted is None:
        log.error("canvas.too_large", app=app_key, workspace_id=parsed.workspace_id, kind=kind)
        return _json(error_body(kind, "This view has too much data to show.")), "error_canvas"
    return _json(fitted), "ok"


def _parse(kind: str, body: bytes):
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"request body is not valid JSON: {error}") from None
    except RecursionError:
        raise ValueError("request body is nested too deeply to parse") from None
    if not isinstance(data, dict):
        raise ValueError(f"request body must be a JSON object, got {type(data).__name__}")
    try:
        return REQUEST_MODELS[kind].model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors())
        raise ValueError(f"invalid {kind} request: {problems}") from None


def _log_rejected_signature(app_key: str, kind: str, reason: str) -> None:
    now = time.monotonic()
    last, suppressed = _signature_log_state.get(app_key, (0.0, 0))
    if now - last < SIGNATURE_LOG_INTERVAL_SECONDS:
        _signature_log_state[app_key] = (last, suppressed + 1)
        return
    _signature_log_state[app_key] = (now, 0)
    log.warning("canvas.signature_rejected", app=app_key, kind=kind, reason=reason, suppressed_since_last=suppressed)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)
