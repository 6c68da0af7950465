"""A fake Intercom for tests and `intercom-app simulate install`, built from Intercom's docs.

It implements these endpoints:

- the authorize page `/oauth`, which approves at once and redirects with a code;
- the token endpoint `/auth/eagle/token`: form or JSON body, a `token`/`access_token` reply,
  and `error.list` replies for unknown, reused or expired codes and wrong credentials;
- `GET /me`, `POST /tickets/search` and `POST /conversations/search` with cursor pagination,
  `GET /contacts/{id}`, notes through `POST /conversations/{id}/reply`, `POST /auth/uninstall`.

Every REST reply carries `X-RateLimit-*` headers, and tests can queue 429 or 5xx replies. Serve one instance per region on its own loopback port with
`serve_fake`. Every call is recorded with the region of the port it came in on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, jsonify, redirect, request

from oauth import fake_objects

__all__ = ["Call", "FakeIntercom", "FakeWorkspace", "serve_fake"]

CODE_LIFETIME_SECONDS = 300.0  # Intercom's codes expire after about 5 minutes.
WINDOW_SECONDS = 10


@dataclass
class FakeWorkspace:
    """One workspace of the fake, with its admin and sample data."""

    workspace_id: str
    name: str
    region: str = "US"
    admin_id: str = "991267459"
    admin_name: str = "Ada Admin"
    admin_email: str = "ada@example.com"
    tickets: list[dict[str, Any]] = field(default_factory=list)
    conversations: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One request the fake received: the region of the port it came in on and what it asked."""

    region: str
    host: str
    method: str
    path: str
    workspace_id: str | None
    api_version: str | None = None


@dataclass
class _Grant:
    workspace_id: str
    client_id: str
    issued_at: float
    used: bool = False


class FakeIntercom:
    """State and routes of the fake; `app` is the Quart application to serve."""

    def __init__(self, clients: dict[str, str]) -> None:
        self.clients = dict(clients)  # client_id -> client_secret
        self.workspaces: dict[str, FakeWorkspace] = {}
        self.approve_workspace: str | None = None  # who the authorize page installs into
        self.calls: list[Call] = []
        self.notes: list[dict[str, Any]] = []
        self.code_lifetime_seconds = CODE_LIFETIME_SECONDS
        self.rate_limit_per_window = 1000
        self.token_reply_override: tuple[int, dict[str, Any]] | None = None
        self.fail_next: list[tuple[int, float]] = []  # (status, reset in seconds) per coming REST call
        self.me_delay_seconds = 0.0
        self.host_regions: dict[str, str] = {}
        self._grants: dict[str, _Grant] = {}
        self._tokens: dict[str, str] = {}  # token -> workspace id
        self._windows: dict[str, tuple[int, int]] = {}  # workspace id -> (window end, calls used)
        self.app = self._build_app()

    def add_workspace(self, workspace: FakeWorkspace) -> FakeWorkspace:
        """Register a workspace; the first one added is the one the authorize page approves."""
        self.workspaces[workspace.workspace_id] = workspace
        if self.approve_workspace is None:
            self.approve_workspace = workspace.workspace_id
        return workspace

    def seed(self, workspace_id: str, *, tickets: int, conversations: int, now: int | None = None) -> None:
        """Give the workspace `tickets` tickets and `conversations` conversations, one contact each."""
        workspace = self.workspaces[workspace_id]
        now = now or int(time.time())
        for index in range(tickets):
            contact_id = f"{workspace_id}-c{index % 5}"
            workspace.contacts.setdefault(contact_id, fake_objects.contact(workspace_id, contact_id, updated_at=now - 60))
            workspace.tickets.append(fake_objects.ticket(
                f"{workspace_id}-t{index}", str(100 + index), contact_id,
                updated_at=now - 100 - index, title=f"Ticket {index}",
            ))
        for index in range(conversations):
            contact_id = f"{workspace_id}-c{index % 5}"
            workspace.contacts.setdefault(contact_id, fake_objects.contact(workspace_id, contact_id, updated_at=now - 60))
            workspace.conversations.append(fake_objects.conversation(
                f"{workspace_id}-v{index}", contact_id, updated_at=now - 200 - index, title=f"Question {index}",
            ))

    def issue_code(self, workspace_id: str, client_id: str) -> str:
        """Return a fresh authorization code for the workspace (it ends with `=`, like Intercom's)."""
        code = secrets.token_urlsafe(24) + "=="
        self._grants[code] = _Grant(workspace_id, client_id, time.time())
        return code

    def issue_token(self, workspace_id: str) -> str:
        token = "fake_tok_" + secrets.token_urlsafe(24)
        self._tokens[token] = workspace_id
        return token

    def tokens_of(self, workspace_id: str) -> list[str]:
        """Return the live tokens of a workspace (tests look for them where they must not be)."""
        return [token for token, owner in self._tokens.items() if owner == workspace_id]

    def revoke_tokens(self, workspace_id: str) -> None:
        """Revoke every token of the workspace, as an uninstall in Intercom's UI does."""
        for token in self.tokens_of(workspace_id):
            del self._tokens[token]

    def expire_codes(self) -> None:
        for grant in self._grants.values():
            grant.issued_at -= self.code_lifetime_seconds + 1

    def calls_to(self, path_prefix: str) -> list[Call]:
        return [call for call in self.calls if call.path.startswith(path_prefix)]

    def _build_app(self) -> Quart:
        app = Quart("fake_intercom")

        @app.get("/oauth")
        async def authorize() -> Response:
            client_id = request.args.get("client_id", "")
            redirect_uri = request.args.get("redirect_uri", "")
            state = request.args.get("state", "")
            if client_id not in self.clients or not redirect_uri:
                return Response("unknown client_id or missing redirect_uri", status=400)
            workspace_id = request.args.get("workspace") or self.approve_workspace
            if workspace_id not in self.workspaces:
                return Response("no workspace to install into", status=400)
            code = self.issue_code(workspace_id, client_id)
            separator = "&" if "?" in redirect_uri else "?"
            return redirect(f"{redirect_uri}{separator}{urlencode({'code': code, 'state': state})}")

        @app.get("/appstore/redirect")
        async def app_store_redirect() -> Response:
            success = request.args.get("install_success")
            message = request.args.get("error_message", "")
            return Response(f"install_success={success} {message}".strip(), content_type="text/plain")

        @app.post("/auth/eagle/token")
        async def token() -> Response:
            self._record(None)
            if self.token_reply_override is not None:
                status, body = self.token_reply_override
                return _json(body, status)
            form = dict(await request.form) or (await request.get_json(silent=True) or {})
            client_id, client_secret, code = form.get("client_id"), form.get("client_secret"), form.get("code")
            if not client_id or self.clients.get(client_id) != client_secret:
                return _error(401, "unauthorized", "Unauthorized Client")
            grant = self._grants.get(code or "")
            if grant is None or grant.client_id != client_id:
                return _error(401, "unauthorized", "Unauthorized Code")
            if grant.used:
                return _error(401, "unauthorized", "Unauthorized Code (already used)")
            if time.time() - grant.issued_at > self.code_lifetime_seconds:
                return _error(401, "unauthorized", "Unauthorized Code (expired)")
            grant.used = True
            value = self.issue_token(grant.workspace_id)
            return _json({"token_type": "Bearer", "token": value, "access_token": value})

        @app.get("/me")
        async def me() -> Response:
            workspace, denied = self._authorize()
            if denied:
                return denied
            if self.me_delay_seconds:
                await asyncio.sleep(self.me_delay_seconds)
            return self._limited(fake_objects.admin_with_app(workspace), workspace)

        @app.post("/tickets/search")
        async def search_tickets() -> Response:
            return await self._search("tickets", "ticket.list")

        @app.post("/conversations/search")
        async def search_conversations() -> Response:
            return await self._search("conversations", "conversation.list")

        @app.get("/contacts/<contact_id>")
        async def get_contact(contact_id: str) -> Response:
            workspace, denied = self._authorize()
            if denied:
                return denied
            found = workspace.contacts.get(contact_id)
            if found is None:
                return _error(404, "not_found", "User Not Found")
            return self._limited(found, workspace)

        @app.post("/conversations/<conversation_id>/reply")
        async def reply(conversation_id: str) -> Response:
            workspace, denied = self._authorize()
            if denied:
                return denied
            body = await request.get_json(silent=True) or {}
            if body.get("message_type") not in ("comment", "note", "quick_reply") or not body.get("admin_id"):
                return _error(400, "parameter_invalid", "message_type and admin_id are required")
            found = next((c for c in workspace.conversations if c["id"] == conversation_id), None)
            if found is None:
                return _error(404, "conversation_not_found", "Conversation Not Found")
            self.notes.append({"workspace_id": workspace.workspace_id, "conversation_id": conversation_id, **body})
            return self._limited(found, workspace)

        @app.post("/auth/uninstall")
        async def uninstall() -> Response:
            workspace, denied = self._authorize()
            if denied:
                return denied
            self.revoke_tokens(workspace.workspace_id)
            return _json({})

        return app

    async def _search(self, kind: str, list_type: str) -> Response:
        workspace, denied = self._authorize()
        if denied:
            return denied
        body = await request.get_json(silent=True) or {}
        query = body.get("query") or {}
        pagination = body.get("pagination") or {}
        per_page = int(pagination.get("per_page") or 20)
        offset = _decode_cursor(pagination.get("starting_after"))

        items = list(getattr(workspace, kind))
        if query.get("field") == "updated_at" and query.get("operator") == ">":
            items = [item for item in items if item["updated_at"] > int(query.get("value") or 0)]
        page_items = items[offset:offset + per_page]
        total_pages = max(1, -(-len(items) // per_page))
        pages: dict[str, Any] = {"type": "pages", "page": offset // per_page + 1, "per_page": per_page, "total_pages": total_pages}
        if offset + per_page < len(items):
            pages["next"] = {"per_page": per_page, "starting_after": _encode_cursor(offset + per_page)}
        return self._limited({"type": list_type, kind: page_items, "total_count": len(items), "pages": pages}, workspace)

    def _authorize(self) -> tuple[FakeWorkspace | None, Response | None]:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        workspace_id = self._tokens.get(token)
        self._record(workspace_id)
        if workspace_id is None:
            return None, _error(401, "unauthorized", "Access Token Invalid")
        if self.fail_next:
            status, reset_in = self.fail_next.pop(0)
            response = _error(status, "rate_limit_exceeded" if status == 429 else "server_error", f"status {status} on demand")
            if status == 429:
                response.headers.update(self._limit_headers(workspace_id, reset_at=int(time.time() + reset_in), exhausted=True))
            return None, response
        return self.workspaces[workspace_id], None

    def _limited(self, body: dict[str, Any], workspace: FakeWorkspace) -> Response:
        response = _json(body)
        response.headers.update(self._limit_headers(workspace.workspace_id))
        return response

    def _limit_headers(self, workspace_id: str, *, reset_at: int | None = None, exhausted: bool = False) -> dict[str, str]:
        now = int(time.time())
        window_end, used = self._windows.get(workspace_id, (0, 0))
        if now >= window_end:
            window_end, used = now + WINDOW_SECONDS, 0
        used += 1
        self._windows[workspace_id] = (window_end, used)
        remaining = 0 if exhausted else max(0, self.rate_limit_per_window - used)
        return {
            "X-RateLimit-Limit": str(self.rate_limit_per_window),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset_at or window_end),
        }

    def _record(self, workspace_id: str | None) -> None:
        host = request.host
        self.calls.append(Call(
            self.host_regions.get(host, "?"), host, request.method, request.path, workspace_id,
            request.headers.get("Intercom-Version"),
        ))


@contextlib.asynccontextmanager
async def serve_fake(
    fake: FakeIntercom, regions: tuple[str, ...] = ("US", "EU", "AU"), *, ports: dict[str, int] | None = None
) -> AsyncIterator[dict[str, str]]:
    """Serve `fake` on one loopback port per region (free ones unless `ports` names them).

    Yields {region: base URL}.
    """
    stop = asyncio.Event()
    urls: dict[str, str] = {}
    tasks = []
    for region in regions:
        port = (ports or {}).get(region) or _free_port()
        host = f"127.0.0.1:{port}"
        fake.host_regions[host] = region
        urls[region] = f"http://{host}"
        config = Config()
        config.bind = [host]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 1.0
        tasks.append(asyncio.create_task(serve(fake.app, config, shutdown_trigger=stop.wait)))
    try:
        await _wait_until_listening(urls.values())
        yield urls
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _error(status: int, code: str, message: str) -> Response:
    return _json({"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [{"code": code, "message": message}]}, status)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: object) -> int:
    if not isinstance(cursor, str) or not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("offset:"))
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _wait_until_listening(urls) -> None:
    for url in urls:
        host, port = url.removeprefix("http://").split(":")
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection(host, int(port))
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            await writer.wait_closed()
            break
        else:
            raise RuntimeError(f"the fake Intercom did not start listening on {url}")
