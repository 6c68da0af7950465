"""Handlers registered by topic pattern: `ticket.*`, `conversation.user.replied`, `*`.

Notifications about one ticket, conversation or contact never run at the same time, but they
run in no particular order, so a handler that needs order compares `updated_at` or `created_at`.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

__all__ = ["Handler", "HandlerModuleError", "HandlerRegistry", "NotificationContext", "load_handler_modules"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class NotificationContext:
    """The input of a handler: the ids of the notification and its parsed envelope."""

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

    def log_fields(self) -> dict[str, Any]:
        """Return the fields every log line about this notification carries."""
        return {
            "app": self.app,
            "workspace_id": self.workspace_id,
            "notification_id": self.notification_id,
            "topic": self.topic,
        }


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


class HandlerModuleError(Exception):
    """Raised when a HANDLER_MODULES entry cannot be imported or has no `register` function."""


def load_handler_modules(registry: HandlerRegistry, module_paths: list[str]) -> None:
    """Import each module and call its `register(registry)`, in the given order."""
    for path in module_paths:
        try:
            module = importlib.import_module(path)
        except ImportError as error:
            raise HandlerModuleError(
                f"HANDLER_MODULES entry {path!r} could not be imported ({error}); "
                "give the dotted import path of a module on the Python path"
            ) from error
        register = getattr(module, "register", None)
        if not callable(register):
            raise HandlerModuleError(
                f"HANDLER_MODULES entry {path!r} has no register(registry) function; add one that registers its handlers"
            )
        register(registry)
        log.info("handlers.module_loaded", module=path)
