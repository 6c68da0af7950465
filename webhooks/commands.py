"""`intercom-app` commands of the `webhooks` package.

`COMMANDS` are added to `intercom-app`; `SIMULATE_COMMANDS` to `intercom-app simulate`.
Each command gets a `CliState` as `ctx.obj`: `.settings`, and `.services()`, an async
context manager that opens the database and shared services.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import httpx

from oauth.apps import DEFAULT_APP_KEY
from oauth.signing import HUB_SIGNATURE_HEADER, sign_hub

__all__ = ["COMMANDS", "SIMULATE_COMMANDS", "DEFAULT_FIXTURES_DIR", "simulate_webhooks"]

# The shared Intercom fixtures sit beside the repository: <repo>/../shared/fixtures/intercom.
DEFAULT_FIXTURES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "intercom"
WEBHOOK_PATTERN = "webhook.*.json"


@click.command("webhooks")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", help="Base URL of the running service (default: the PUBLIC_URL setting, else http://HOST:PORT).")
@click.option("--app", "app_key", default=DEFAULT_APP_KEY, show_default=True, help="App key in the webhook URL.")
@click.option(
    "--fixtures-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help=f"Folder whose {WEBHOOK_PATTERN} files are sent when no FILES are given "
    "(default: ../shared/fixtures/intercom beside the repository).",
)
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for each response.")
@click.pass_obj
def simulate_webhooks(state, files: tuple[Path, ...], url: str | None, app_key: str, fixtures_dir: Path | None,
                      timeout: float) -> None:
    """Send webhook files to a running service, signed as Intercom signs them, and print each status.

    Each file is sent byte for byte with X-Hub-Signature computed from the app's client secret.
    Exits with status 1 when any response is not 2xx or a request fails.
    """
    paths = list(files) or _fixture_files(fixtures_dir or DEFAULT_FIXTURES_DIR)
    secret = asyncio.run(_client_secret(state, app_key))
    endpoint = f"{(url or state.settings.public_url).rstrip('/')}/intercom/{app_key}/webhooks"

    failures = asyncio.run(_send_all(paths, endpoint, secret, timeout))
    click.echo(f"{len(paths) - failures} of {len(paths)} webhooks accepted by {endpoint}")
    if failures:
        raise SystemExit(1)


def _fixture_files(folder: Path) -> list[Path]:
    paths = sorted(folder.glob(WEBHOOK_PATTERN))
    if not paths:
        raise click.ClickException(f"no {WEBHOOK_PATTERN} files in {folder}; pass FILES or --fixtures-dir")
    return paths


async def _client_secret(state, app_key: str) -> str:
    """Return the current client secret of `app_key`: from the settings for `default`, else the database."""
    if app_key == DEFAULT_APP_KEY:
        secrets = state.settings.client_secrets()
    else:
        async with state.services() as services:
            registered = await services.apps.get(app_key)
        if registered is None:
            raise click.ClickException(f"no Intercom app is registered under the key {app_key!r}")
        secrets = list(registered.client_secrets)
    if not secrets:
        raise click.ClickException(f"the app {app_key!r} has no client secret to sign with; set INTERCOM_CLIENT_SECRET")
    return secrets[0]


async def _send_all(paths: list[Path], endpoint: str, secret: str, timeout: float) -> int:
    """Send each file in turn, print one line per file and return the number of failures."""
    failures = 0
    async with httpx.AsyncClient(timeout=timeout) as client:
        for path in paths:
            body = path.read_bytes()
            headers = {"Content-Type": "application/json", HUB_SIGNATURE_HEADER: sign_hub(body, secret)}
            try:
                response = await client.post(endpoint, content=body, headers=headers)
            except httpx.HTTPError as error:
                failures += 1
                click.echo(f"FAILED {path.name}: {type(error).__name__}: {error or 'no response'}")
                continue

            if not response.is_success:
                failures += 1
            click.echo(f"{response.status_code} {path.name}: {_response_message(response)}")
    return failures


def _response_message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(payload, dict):
        if "error" in payload:
            return str(payload["error"])
        if "status" in payload:
            return f"{payload['status']} {payload.get('notification_id', '')}".strip()
    return response.text.strip()[:200]


from webhooks.processing_commands import PROCESSING_COMMANDS  # noqa: E402

COMMANDS: list[click.Command] = [*PROCESSING_COMMANDS]
SIMULATE_COMMANDS: list[click.Command] = [simulate_webhooks]
