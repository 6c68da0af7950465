"""Handlers registered by topic pattern: `ticket.*`, `conversation.user.replied`, `*`."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Handler", "HandlerRegistry", "NotificationContext"]


@dataclass(frozen=True)
class NotificationContext:
    """What a handler receives: the ids of the notification and its parsed envelope."""

    app: str
    workspace_id: str | None
    notification_id: str
    topic: str
    envelope: dict[str, Any]
    database: Any  # AsyncDatabase

    @property
    def item(self) -> dict[str, Any]:
        """Return `data.item`, or an empty dict when it is missing or null."""
        data = self.envelope.get("data") or {}
        item = data.get("item") if isinstance(data, dict) else None
        return item if isinstance(item, dict) else {}


Handler = Callable[[NotificationContext], Awaitable[None]]


class HandlerRegistry:
    """Map topic patterns to handlers. Every handler whose pattern matches a topic runs."""

    def __init__(self) -> None:
        self._handlers: list[tuple[str, str, Handler]] = []

    def on(self, pattern: str) -> Callable[[Handler], Handler]:
        """Register the decorated async function for topics matching `pattern`.

        Example::

            @registry.on("ticket.*")
            async def remember_ticket(context: NotificationContext) -> None:
                ...
        """

        def decorator(handler: Handler) -> Handler:
            self.add(pattern, handler)
            return handler

        return decorator

    def add(self, pattern: str, handler: Handler, *, name: str | None = None) -> None:
        self._handlers.append((pattern, name or getattr(handler, "__qualname__", repr(handler)), handler))

    def handlers_for(self, topic: str) -> list[tuple[str, Handler]]:
        """Return (name, handler) for every handler whose pattern matches `topic`, in order."""
        return [(name, handler) for pattern, name, handler in self._handlers if fnmatch.fnmatchcase(topic, pattern)]
