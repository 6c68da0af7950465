"""The error canvas: a valid canvas with a short error text and a retry button.

Intercom documents no error protocol for Canvas Kit and does not say what it shows for a
failed request, so every failure after the signature check gets a 200 response with this canvas.
"""

from __future__ import annotations

from typing import Any

from canvas.components import ButtonComponent, Canvas, Content, TextComponent
from canvas.actions import SubmitAction

__all__ = ["RETRY_COMPONENT_ID", "error_body"]

RETRY_COMPONENT_ID = "retry"
DEFAULT_ERROR_TEXT = "This view could not be loaded right now."


def error_body(kind: str, message: str = DEFAULT_ERROR_TEXT) -> dict[str, Any]:
    """Return the response body for request `kind` that shows `message` and a retry button."""
    content = Content(
        components=[
            TextComponent(text=message, style="error"),
            ButtonComponent(id=RETRY_COMPONENT_ID, label="Try again", style="secondary", action=SubmitAction()),
        ]
    )
    if kind == "messenger.live":
        return {"content": content.to_json()}
    return {"canvas": Canvas(content=content).to_json()}
