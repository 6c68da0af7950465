"""`intercom-app` commands of the `canvas` package (to be filled in).

`COMMANDS` are added to `intercom-app`; `SIMULATE_COMMANDS` to `intercom-app simulate`.
Each command gets a `CliState` as `ctx.obj`: `.settings`, and `.services()`, an async
context manager that opens the database and shared services.
"""

from __future__ import annotations

import click

from canvas.preview_command import preview

COMMANDS: list[click.Command] = [preview]
SIMULATE_COMMANDS: list[click.Command] = []
