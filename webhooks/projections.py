"""Projections of the built-in customer-activity app (to be filled in)."""

from __future__ import annotations

from webhooks.registry import HandlerRegistry

__all__ = ["register_projections"]


def register_projections(registry: HandlerRegistry) -> None:
    """Register the ticket, conversation, contact and activity projections on `registry`."""
