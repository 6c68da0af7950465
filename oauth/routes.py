"""HTTP routes of the `oauth` package: install, OAuth callback, uninstall and health check."""

from __future__ import annotations

import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import structlog
from pymongo.errors import PyMongoError
from quart import Blueprint, Response, current_app, jsonify, redirect, request

from oauth.apps import RegisteredApp
from oauth.errors import InstallError, IntercomApiError
from oauth.exchange import exchange_code
from oauth.installations import WorkspaceIdentity
from oauth.pages import render_page
from oauth.regions import normalize_region
from oauth.signing import BODY_SIGNATURE_HEADER, SignatureError, verify_body_signature
from oauth.storage import UNINSTALLED
from oauth.throttle import ThrottledLog

__all__ = ["blueprint"]

log = structlog.get_logger(__name__)

blueprint = Blueprint("oauth", __name__)

STATE_COOKIE = "intercom_oauth_state"
STATE_LIFETIME = timedelta(minutes=10)

_signature_rejected = ThrottledLog("signature.rejected")
_state_rejected = ThrottledLog("install.state_rejected")


@blueprint.errorhandler(PyMongoError)
async def database_unavailable(error: PyMongoError) -> Response:
    """Return 503 when the database fails, so Intercom retries and an admin can try again."""
    log.error("oauth.database_error", path=request.path, error=str(error), error_type=type(error).__name__)
    message = "The database is unavailable; try again in a minute"
    if request.method == "GET":
        return _page(503, "Service unavailable", message + ".")
    return _json_error(503, message)


@blueprint.get("/intercom/<app>/install")
async def install(app: str) -> Response:
    """Store a fresh single-use state, set it in a cookie and redirect to Intercom's authorize page."""
    services = _services()
    registered = await services.apps.get(app)
    if registered is None:
        return _page(404, "Unknown app", f"No Intercom app is registered under the key {app!r}.")

    state = secrets.token_urlsafe(32)
    await services.database.oauth_states.insert_one({"state": state, "app": app, "created_at": datetime.now(UTC)})

    query = urlencode({"client_id": registered.client_id, "state": state, "redirect_uri": _callback_url(app)})
    response = redirect(f"{services.intercom_api.hosts.authorize_url}?{query}")
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=int(STATE_LIFETIME.total_seconds()),
        path=f"/intercom/{app}/",
        httponly=True,
        samesite="Lax",
        secure=services.settings.public_url.startswith("https://"),
    )
    log.info("install.started", app=app)
    return response


@blueprint.get("/intercom/<app>/oauth/callback")
async def oauth_callback(app: str) -> Response:
    """Check the state, exchange the code, identify the workspace and store the installation."""
    services = _services()
    registered = await services.apps.get(app)
    if registered is None:
        return _page(404, "Unknown app", f"No Intercom app is registered under the key {app!r}.")

    problem = await _consume_state(app)
    if problem is not None:
        _state_rejected.warning((app, problem), app=app, reason=problem)
        return _page(400, "Install link expired or invalid", problem, link_url=_install_url(app),
                     link_text="Start the install again")

    if request.args.get("error"):
        reason = request.args.get("error_description") or request.args.get("error")
        return _install_failed(app, f"Intercom did not authorize the app: {reason}")
    code = request.args.get("code")
    if not code:
        return _install_failed(app, "Intercom's redirect carries no authorization code")

    try:
        installation = await _install(services, registered, code)
    except InstallError as error:
        return _install_failed(app, str(error))

    workspace_id = installation["workspace_id"]
    await services.intercom_api.forget(app, workspace_id)
    backfill = services.intercom_api.backfill
    if services.settings.BACKFILL_ON_INSTALL and backfill is not None and not backfill.is_running(app, workspace_id):
        services.intercom_api.tasks.spawn(
            services.intercom_api.backfill.run(app, workspace_id), name=f"backfill:{app}:{workspace_id}"
        )
    log.info("install.finished", app=app, workspace_id=workspace_id, region=installation["region"])

    response = redirect(f"{services.intercom_api.hosts.app_store_redirect_url}?install_success=true")
    response.delete_cookie(STATE_COOKIE, path=f"/intercom/{app}/")
    return response


@blueprint.post("/intercom/<app>/uninstall")
async def uninstall(app: str) -> Response:
    """Handle Intercom's signed uninstall notification `{"app_id": <workspace id>}`."""
    services = _services()
    body, error = await _verified_json(app)
    if error is not None:
        return error

    workspace_id = body.get("app_id")
    if not isinstance(workspace_id, str) or not workspace_id:
        return _json_error(400, "body must be a JSON object with the workspace id as a string in `app_id`")

    changed = await services.intercom_api.installations.deactivate(
        app, workspace_id, status=UNINSTALLED, reason="uninstall_notification"
    )
    await services.intercom_api.forget(app, workspace_id)
    log.info("uninstall.received", app=app, workspace_id=workspace_id, changed=changed)
    return jsonify({})


@blueprint.post("/intercom/<app>/health-check")
async def health_check(app: str) -> Response:
    """Reply to Intercom's installation health check for `{"workspace_id": ...}`."""
    services = _services()
    body, error = await _verified_json(app)
    if error is not None:
        return error

    workspace_id = body.get("workspace_id")
    if not isinstance(workspace_id, str) or not workspace_id:
        return _json_error(400, "body must be a JSON object with the workspace id as a string in `workspace_id`")

    answer = await services.intercom_api.health.check(app, workspace_id, _install_url(app))
    log.info("health_check.answered", app=app, workspace_id=workspace_id, state=answer["state"])
    return jsonify(answer)


async def _consume_state(app: str) -> str | None:
    """Consume the callback's state; return why it is rejected, or None when it is valid."""
    state = request.args.get("state")
    cookie = request.cookies.get(STATE_COOKIE)
    if not state:
        return "The request carries no state parameter. Start the install again."
    if not cookie:
        return ("The install state cookie is missing, so this browser did not start the install. "
                "Start the install again in the same browser.")
    if not hmac.compare_digest(state.encode(), cookie.encode()):
        return "The state parameter does not match this browser's install cookie. Start the install again."

    document = await _services().database.oauth_states.find_one_and_delete({"state": state, "app": app})
    if document is None:
        return "This install link was already used or has expired. Start the install again."
    if datetime.now(UTC) - document["created_at"] > STATE_LIFETIME:
        return "This install link expired after 10 minutes. Start the install again."
    return None


async def _install(services, registered: RegisteredApp, code: str) -> dict[str, Any]:
    api = services.intercom_api
    token = await exchange_code(
        api.hosts, registered, code, timeout=services.settings.INTERCOM_API_TIMEOUT_SECONDS, transport=api.http_transport
    )

    client = api.client_for_token(registered.key, token)
    try:
        me = await client.me()
    except IntercomApiError as error:
        raise InstallError(f"Intercom's /me call failed after the code exchange: {error}") from None
    finally:
        await client.aclose()

    identity = _identity(me)
    return await api.installations.upsert(
        registered.key,
        identity,
        token_encrypted=services.cipher.encrypt(token),
        api_base_url=api.hosts.api_for_region(identity.region),
    )


def _identity(me: dict[str, Any]) -> WorkspaceIdentity:
    workspace = me.get("app") if isinstance(me.get("app"), dict) else {}
    workspace_id = workspace.get("id_code")
    if not isinstance(workspace_id, str) or not workspace_id:
        raise InstallError("Intercom's /me reply carries no workspace id (app.id_code)")
    return WorkspaceIdentity(
        workspace_id=workspace_id,
        workspace_name=workspace.get("name"),
        region=normalize_region(workspace.get("region")),
        admin_id=str(me["id"]) if me.get("id") is not None else None,
        admin_name=me.get("name"),
        admin_email=me.get("email"),
    )


async def _verified_json(app: str) -> tuple[dict[str, Any], Response | None]:
    registered = await _services().apps.get(app)
    if registered is None:
        return {}, _json_error(404, f"no Intercom app is registered under the key {app!r}")
    raw = await request.get_data()
    try:
        verify_body_signature(raw, request.headers.get(BODY_SIGNATURE_HEADER), registered.client_secrets)
    except SignatureError as error:
        _signature_rejected.warning((app, request.path), app=app, path=request.path, reason=str(error))
        return {}, _json_error(401, str(error))
    try:
        body = json.loads(raw)
    except ValueError:
        return {}, _json_error(400, "body is not valid JSON")
    except RecursionError:
        return {}, _json_error(400, "body is nested too deeply to parse")
    if not isinstance(body, dict):
        return {}, _json_error(400, "body must be a JSON object")
    return body, None


def _install_failed(app: str, reason: str) -> Response:
    log.warning("install.failed", app=app, reason=reason)
    hosts = _services().intercom_api.hosts
    query = urlencode({"install_success": "false", "error_message": reason})
    response = redirect(f"{hosts.app_store_redirect_url}?{query}")
    response.delete_cookie(STATE_COOKIE, path=f"/intercom/{app}/")
    return response


def _page(status: int, title: str, message: str, **link: str) -> Response:
    return Response(render_page(title, message, **link), status=status, content_type="text/html; charset=utf-8")


def _json_error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _callback_url(app: str) -> str:
    return f"{_services().settings.public_url}/intercom/{app}/oauth/callback"


def _install_url(app: str) -> str:
    return f"{_services().settings.public_url}/intercom/{app}/install"


def _services():
    return current_app.extensions["intercom"]
