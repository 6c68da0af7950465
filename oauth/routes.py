"""HTTP routes of the `oauth` package (to be filled in)."""

from __future__ import annotations

from quart import Blueprint

__all__ = ["blueprint"]

blueprint = Blueprint("oauth", __name__)
