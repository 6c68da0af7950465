"""`intercom-app replay` and `intercom-app retry-policy`: repair and tune notification processing."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import click

from webhooks.replay import ReplayFilter, replay_notifications
from webhooks.retry import clear_override, list_overrides, set_override

__all__ = ["PROCESSING_COMMANDS"]


class UtcDateTime(click.ParamType):
    """An ISO 8601 date or date and time; a time without an offset is read as UTC."""

    name = "datetime"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time such as 2026-06-12 or 2026-06-12T09:30:00Z", param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@click.command()
@click.option("--app", "app_key", help="Only notifications of this app key.")
@click.option("--workspace", help="Only notifications of this workspace id.")
@click.option("--topic", help="Only notifications with this exact topic, e.g. ticket.created.")
@click.option("--since", type=UtcDateTime(), help="Only notifications received at or after this time (UTC unless an offset is given).")
@click.option("--until", type=UtcDateTime(), help="Only notifications received before this time (UTC unless an offset is given).")
@click.option("--id", "ids", multiple=True, help="Only this notification id (notif_...); repeat for several.")
@click.option("--include-done", is_flag=True, help="Also re-run notifications that finished, e.g. after a handler fix.")
@click.option(
    "--include-ignored",
    is_flag=True,
    help="Also run notifications ignored as older than WEBHOOK_REPLAY_WINDOW_SECONDS, when the sender's clock was wrong.",
)
@click.pass_obj
def replay(state, app_key, workspace, topic, since, until, ids, include_done, include_ignored) -> None:
    """Re-queue dead notifications (all, or those matching every option given)."""
    replay_filter = ReplayFilter(
        app=app_key, workspace_id=workspace, topic=topic, since=since, until=until,
        notification_ids=tuple(ids), include_done=include_done, include_ignored=include_ignored,
    )

    async def run() -> int:
        async with state.services() as services:
            return await replay_notifications(services.database, replay_filter, datetime.now(timezone.utc))

    count = asyncio.run(run())
    kinds = " or ".join(replay_filter.statuses)
    click.echo(f"re-queued {count} {kinds} notification{'s' if count != 1 else ''}")


@click.group("retry-policy")
def retry_policy() -> None:
    """Show or override retry limits and backoff per app or workspace."""


@retry_policy.command("set")
@click.option("--app", "app_key", default="default", show_default=True, help="App key the override applies to.")
@click.option("--workspace", help="Workspace id; without it the override applies to the whole app.")
@click.option("--max-attempts", type=click.IntRange(min=1), help="Handler runs before a notification is dead.")
@click.option("--backoff-base", type=click.FloatRange(min=0, min_open=True), help="Seconds of the first retry delay cap; it doubles per attempt.")
@click.option("--backoff-max", type=click.FloatRange(min=0, min_open=True), help="Upper limit in seconds of any retry delay.")
@click.pass_obj
def set_policy(state, app_key, workspace, max_attempts, backoff_base, backoff_max) -> None:
    """Store an override; options left out keep their current value."""
    if max_attempts is None and backoff_base is None and backoff_max is None:
        raise click.UsageError("give at least one of --max-attempts, --backoff-base, --backoff-max")

    async def run():
        async with state.services() as services:
            return await set_override(
                services.database, app_key, workspace,
                max_attempts=max_attempts, backoff_base_seconds=backoff_base, backoff_max_seconds=backoff_max,
            )

    document = asyncio.run(run())
    click.echo(_describe(document))


@retry_policy.command("clear")
@click.option("--app", "app_key", default="default", show_default=True, help="App key of the override.")
@click.option("--workspace", help="Workspace id; without it the app-wide override is cleared.")
@click.pass_obj
def clear_policy(state, app_key, workspace) -> None:
    """Delete an override, so the app's or the settings' policy applies again."""

    async def run() -> bool:
        async with state.services() as services:
            return await clear_override(services.database, app_key, workspace)

    scope = f"app {app_key}" + (f", workspace {workspace}" if workspace else "")
    click.echo(f"cleared the override of {scope}" if asyncio.run(run()) else f"no override stored for {scope}")


@retry_policy.command("list")
@click.pass_obj
def list_policies(state) -> None:
    """Print the default policy from the settings and every stored override."""
    settings = state.settings
    click.echo(
        f"settings: max_attempts={settings.WORKER_MAX_ATTEMPTS} backoff_base_seconds={settings.WORKER_BACKOFF_BASE_SECONDS:g} "
        f"backoff_max_seconds={settings.WORKER_BACKOFF_MAX_SECONDS:g}"
    )

    async def run():
        async with state.services() as services:
            return await list_overrides(services.database)

    for document in asyncio.run(run()):
        click.echo(_describe(document))


def _describe(document: dict) -> str:
    scope = f"app {document['app']}" + (f", workspace {document['workspace_id']}" if document.get("workspace_id") else "")
    values = " ".join(
        f"{name}={document[name]:g}" if isinstance(document.get(name), float) else f"{name}={document.get(name)}"
        for name in ("max_attempts", "backoff_base_seconds", "backoff_max_seconds")
        if document.get(name) is not None
    )
    return f"{scope}: {values}"


PROCESSING_COMMANDS: list[click.Command] = [replay, retry_policy]
