"""HTTP routes of the `webhooks` package (to be filled in)."""

from __future__ import annotations

from quart import Blueprint

__all__ = ["blueprint"]

blueprint = Blueprint("webhooks", __name__)
