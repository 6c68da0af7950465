"""The OAuth code exchange at Intercom's `/auth/eagle/token`, through Authlib's httpx client."""

from __future__ import annotations

import warnings

import httpx
from authlib.oauth2.rfc6749 import OAuth2Error

with warnings.catch_warnings():
    # NOTE: Authlib 1.9 warns on import that its httpx integration will move to the httpx2
    # package. This project pins httpx 0.28, which Authlib 1.9 still supports.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from oauth.apps import RegisteredApp
from oauth.errors import InstallError
from oauth.regions import IntercomHosts

__all__ = ["exchange_code"]


async def exchange_code(
    hosts: IntercomHosts,
    app: RegisteredApp,
    code: str,
    *,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """Exchange an authorization code for the workspace's access token.

    Intercom takes `client_id`, `client_secret` and `code` in the form body and replies
    `{"token_type": "Bearer", "token": ..., "access_token": ...}`. An `error.list` reply or a
    non-2xx status raises InstallError with Intercom's message; no token is returned then.
    """
    if not app.client_secrets:
        raise InstallError(f"The app {app.key!r} has no client secret configured")

    async with AsyncOAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secrets[0],
        token_endpoint_auth_method="client_secret_post",
        timeout=timeout,
        transport=transport,
    ) as client:
        client.register_compliance_hook("access_token_response", _normalize_token_response)
        try:
            token = await client.fetch_token(hosts.token_url, code=code, grant_type="authorization_code")
        except httpx.TransportError as error:
            raise InstallError(f"Intercom's token endpoint could not be reached ({type(error).__name__})") from None
        except OAuth2Error as error:
            raise InstallError(f"Intercom rejected the authorization code ({error.error})") from None

    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise InstallError("Intercom's token reply contains no access token")
    return access_token


def _normalize_token_response(response: httpx.Response) -> httpx.Response:
    """Turn Intercom's reply into the OAuth 2 shape Authlib expects, or raise InstallError."""
    try:
        body = response.json()
    except ValueError:
        body = None

    if not response.is_success or not isinstance(body, dict) or body.get("type") == "error.list":
        raise InstallError(_error_message(response.status_code, body))

    token = body.get("access_token") or body.get("token")
    if not isinstance(token, str) or not token:
        raise InstallError("Intercom's token reply contains neither `token` nor `access_token`")
    normalized = {"access_token": token, "token_type": body.get("token_type") or "Bearer"}
    return httpx.Response(200, json=normalized, request=response.request)


def _error_message(status: int, body: object) -> str:
    messages = []
    if isinstance(body, dict):
        for error in body.get("errors") or []:
            if isinstance(error, dict) and error.get("message"):
                messages.append(str(error["message"]))
    if messages:
        return f"Intercom refused the install: {'; '.join(messages)} (status {status})"
    return f"Intercom's token endpoint returned status {status} without an error message"
