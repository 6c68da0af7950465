"""`intercom-app preview FILE`: write the HTML preview of a canvas JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from canvas.preview import CanvasDocumentError, render_page

__all__ = ["preview"]


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write (default: FILE with the suffix .html; '-' writes to standard output).",
)
def preview(file: Path, output: Path | None) -> None:
    """Render the canvas in FILE (a response, a bare canvas or live content) as an HTML page."""
    try:
        document = json.loads(file.read_bytes())
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{file} is not valid JSON: {error}") from None
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{file} is not UTF-8 text: {error}") from None

    try:
        page = render_page(document, title=f"Canvas preview: {file.name}")
    except CanvasDocumentError as error:
        raise click.ClickException(f"{file} contains no canvas: {error}") from None

    if output is not None and str(output) == "-":
        click.echo(page, nl=False)
        return
    target = output if output is not None else file.with_suffix(".html")
    target.write_text(page, encoding="utf-8")
    click.echo(f"wrote {target}", err=True)
