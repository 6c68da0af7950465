"""The response bodies Intercom accepts from a Canvas Kit endpoint."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from canvas.components import Canvas, Content

__all__ = ["CompletedEvent", "ConfigureResults", "InitializeResponse", "LiveCanvasResponse", "SubmitResponse"]


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """Serialise to Intercom's JSON, leaving out every field that was not set."""
        return self.model_dump(mode="json", exclude_none=True)


class CompletedEvent(_Response):
    """Tells Intercom the app has done its job (workflows continue, reports count it)."""

    type: Literal["completed"] = "completed"


class InitializeResponse(_Response):
    """Response to an initialize request (Inbox or Messenger) or to a configure request that continues."""

    canvas: Canvas


class SubmitResponse(_Response):
    """Response to a submit or submit-sheet request, whose canvas replaces the previous one.

    With `card_creation_options` (Inbox only), Intercom calls the Messenger initialize URL with
    those options and inserts the resulting card into the teammate's reply.
    """

    canvas: Canvas
    card_creation_options: dict[str, Any] | None = None
    event: CompletedEvent | None = None


class ConfigureResults(_Response):
    """Ends the Messenger configure flow; Intercom sends `results` as `card_creation_options`."""

    results: dict[str, Any]


class LiveCanvasResponse(_Response):
    """Response to a live canvas request: bare content, no canvas wrapper."""

    content: Content
