"""HTTP routes of the `canvas` package (to be filled in)."""

from __future__ import annotations

from quart import Blueprint

__all__ = ["blueprint"]

blueprint = Blueprint("canvas", __name__)
