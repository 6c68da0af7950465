"""`intercom-app` commands of the `webhooks` package (to be filled in).

`COMMANDS` are added to `intercom-app`; `SIMULATE_COMMANDS` to `intercom-app simulate`.
Each command gets a `CliState` as `ctx.obj`: `.settings`, and `.services()`, an async
context manager that opens the database and shared services.
"""

from __future__ import annotations

import click

from webhooks.processing_commands import PROCESSING_COMMANDS

COMMANDS: list[click.Command] = [*PROCESSING_COMMANDS]
SIMULATE_COMMANDS: list[click.Command] = []
