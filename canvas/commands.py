"""`intercom-app simulate canvas ...`: send signed Canvas Kit requests to a running service.

`SIMULATE_COMMANDS` are added to `intercom-app simulate`. Each command gets a `CliState`
as `ctx.obj`, whose settings give the default URL and the client secret to sign with.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
import httpx

from canvas import sample_requests
from canvas.client import post_canvas
from canvas.plain_text import render_lines
from canvas.preview_command import preview

COMMANDS: list[click.Command] = [preview]

DEFAULT_WORKSPACE = "ws7k2p9q"


@click.group("canvas")
def canvas_group() -> None:
    """Send signed Canvas Kit requests and print the canvas the service returns."""


def _common_options(function):
    function = click.option("--json", "as_json", is_flag=True, help="Print the raw JSON response instead of text.")(function)
    function = click.option("--app", "app_key", default="default", show_default=True, help="App key in the URL path.")(function)
    function = click.option("--url", help="Base URL of the running service (default: PUBLIC_URL, else http://HOST:PORT).")(function)
    function = click.option("--workspace", default=DEFAULT_WORKSPACE, show_default=True, help="Workspace id in the signed body.")(function)
    return function


@canvas_group.command("inbox")
@click.option("--contact", required=True, help="Intercom contact id the teammate is viewing.")
@click.option("--file", "body_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Start from this initialize body (JSON file) instead of the built-in one; "
                   "its workspace and contact ids are replaced.")
@_common_options
@click.pass_obj
def inbox(state, contact: str, body_file: Path | None, workspace: str, url: str | None, app_key: str, as_json: bool) -> None:
    """Send an Inbox initialize request for CONTACT and print the canvas."""
    if body_file is None:
        body = sample_requests.inbox_initialize(workspace, contact)
    else:
        body = _load_body(body_file)
        body["workspace_id"] = workspace
        body["contact"] = {**(body.get("contact") or {}), "id": contact}
    _send(state, url, app_key, "inbox.initialize", body, as_json)


@canvas_group.command("messenger")
@click.option("--contact", required=True, help="Intercom contact id of the customer viewing the card.")
@click.option("--ticket", help="Open this ticket id (a Messenger submit) instead of viewing the live card.")
@click.option("--show", type=click.Choice(["open", "all"]), default="open", show_default=True, help="Card setting: show open tickets only, or all tickets.")
@click.option("--limit", type=click.IntRange(1, 20), default=5, show_default=True, help="Card setting: how many tickets.")
@_common_options
@click.pass_obj
def messenger(state, contact: str, ticket: str | None, show: str, limit: int, workspace: str, url: str | None,
              app_key: str, as_json: bool) -> None:
    """Send a live canvas request (or a submit for --ticket) as CONTACT and print the canvas."""
    stored_data = {"show": show, "limit": limit}
    if ticket:
        body = sample_requests.messenger_submit(workspace, contact, f"ticket:{ticket}", stored_data)
        _send(state, url, app_key, "messenger.submit", body, as_json)
    else:
        _send(state, url, app_key, "messenger.live", sample_requests.messenger_live(workspace, contact, stored_data), as_json)


def _load_body(path: Path) -> dict:
    try:
        body = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise click.ClickException(f"{path} is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise click.ClickException(f"{path} must contain a JSON object, not {type(body).__name__}")
    return body


def _send(state, url: str | None, app_key: str, kind: str, body: bytes | dict, as_json: bool) -> None:
    base_url = (url or state.settings.public_url).rstrip("/")
    secrets = state.settings.client_secrets()
    if not secrets:
        raise click.ClickException("INTERCOM_CLIENT_SECRET is not set, so the request cannot be signed")

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
            return await post_canvas(client, app_key, kind, body, secrets[0])

    try:
        response = asyncio.run(send())
    except httpx.TransportError as error:
        raise click.ClickException(f"could not reach {base_url}: {error}; is `intercom-app serve` running there?") from None

    if response.status_code != 200:
        raise click.ClickException(f"{kind} request failed with HTTP {response.status_code}: {response.text}")
    payload = response.json()
    if as_json:
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    canvas = payload.get("canvas", payload)
    for line in render_lines(canvas.get("content", {}).get("components", [])):
        click.echo(line)


SIMULATE_COMMANDS: list[click.Command] = [canvas_group]
