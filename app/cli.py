"""The `intercom-app` command line."""

from __future__ import annotations

import asyncio
import socket
import sys
from contextlib import AbstractAsyncContextManager

import click

from app.embedded_db import EmbeddedMongoError
from app.logging import configure_logging
from app.settings import Settings, SettingsError, load_settings

__all__ = ["main"]


class CliState:
    """The `ctx.obj` of every command: the settings and a way to open the services."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def services(self) -> AbstractAsyncContextManager:
        """Open the database and shared services for one command."""
        from app.services import open_services

        return open_services(self.settings)


class DefaultGroup(click.Group):
    """A group that runs `default_command` when the first argument names no sub-command."""

    def __init__(self, *args, default_command: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.default_command = default_command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            if not (args and args[0] in ("--help", "-h")):
                args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Run and operate the Intercom app backend."""
    try:
        settings = load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    configure_logging(settings.LOG_LEVEL, settings.log_format)
    ctx.obj = CliState(settings)


@cli.command()
@click.option("--host", help="Address to listen on (default: HOST).")
@click.option("--port", type=int, help="Port to listen on (default: PORT).")
@click.pass_obj
def serve(state: CliState, host: str | None, port: int | None) -> None:
    """Serve webhooks, Canvas Kit, OAuth and metrics over HTTP, with an in-process worker."""
    from app.factory import create_app
    from app.server import run_until_signal, serve_app
    from app.services import mongo_uri

    settings = state.settings
    if host:
        settings.HOST = host
    if port is not None:
        settings.PORT = port

    _check_port_free(settings.HOST, settings.PORT)
    _serve_metrics_port(settings)
    try:
        with mongo_uri(settings, own=True) as uri:
            app = create_app(settings, mongo_uri=uri)
            click.echo(f"serving on http://{settings.HOST}:{settings.PORT} (Ctrl-C stops)", err=True)
            run_until_signal(lambda stop: serve_app(app, settings.HOST, settings.PORT, stop))
    except EmbeddedMongoError as error:
        raise click.ClickException(str(error)) from None


def _check_port_free(host: str, port: int) -> None:
    """Fail with a clear message when host:port cannot be bound, before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As Hypercorn does, so connections of a previous run in TIME_WAIT do not block the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.ClickException(
                f"cannot listen on {host}:{port} ({error.strerror}); stop the process using it "
                "or choose another port with PORT or --port"
            ) from None


@cli.command()
@click.pass_obj
def worker(state: CliState) -> None:
    """Process stored notifications without the web routes; run as many as you need.

    With METRICS_PORT set, the worker serves its Prometheus metrics at /metrics on that port.
    """
    from app.server import run_until_signal
    from webhooks.dispatcher import Dispatcher
    from webhooks.registry import HandlerModuleError

    settings = state.settings
    # A worker serves no HTTP otherwise, so its processing metrics get their own endpoint.
    _serve_metrics_port(settings)

    async def main(stop: asyncio.Event) -> None:
        async with state.services() as services:
            dispatcher = Dispatcher(services)
            await dispatcher.start()
            await stop.wait()
            await dispatcher.stop(state.settings.WORKER_SHUTDOWN_SECONDS)

    try:
        run_until_signal(main)
    except HandlerModuleError as error:
        raise click.ClickException(str(error)) from None


def _serve_metrics_port(settings: Settings) -> None:
    """Serve /metrics on METRICS_PORT when it is set."""
    from app.metrics import serve_on_own_port

    if not settings.METRICS_PORT:
        return
    try:
        serve_on_own_port(settings.HOST, settings.METRICS_PORT)
    except OSError as error:
        raise click.ClickException(
            f"cannot serve metrics on {settings.HOST}:{settings.METRICS_PORT} ({error}); "
            "give each process on a host its own METRICS_PORT, or 0 to serve none"
        ) from None
    click.echo(f"metrics on http://{settings.HOST}:{settings.METRICS_PORT}/metrics", err=True)


@cli.group(cls=DefaultGroup, default_command="webhooks")
def simulate() -> None:
    """Send signed Intercom-shaped requests to a running service (default: webhooks)."""


def _register_commands() -> None:
    from canvas import commands as canvas_commands
    from oauth import commands as oauth_commands
    from webhooks import commands as webhook_commands

    for module in (webhook_commands, canvas_commands, oauth_commands):
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)
        for command in getattr(module, "SIMULATE_COMMANDS", ()):
            simulate.add_command(command)


_register_commands()


def main() -> None:
    """Entry point of the `intercom-app` script."""
    cli(prog_name="intercom-app")


if __name__ == "__main__":
    sys.exit(main())
