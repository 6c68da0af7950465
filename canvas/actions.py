"""Canvas Kit action objects: what happens when a teammate or customer uses a component.

`submit` sends a submit request to the app, `url` opens a link in a new tab, and `sheet`
(Messenger only) opens the app's HTML page inside the Messenger.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Action", "SheetAction", "SubmitAction", "UrlAction"]


class _ActionModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitAction(_ActionModel):
    """Action that sends a submit request (or a configure request inside the configure flow)."""

    type: Literal["submit"] = "submit"


class UrlAction(_ActionModel):
    """Action that opens `url` in a new browser tab."""

    type: Literal["url"] = "url"
    url: str

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"url action: url {value!r} must be an absolute http(s) URL")
        return value


class SheetAction(_ActionModel):
    """Action that opens the HTML page at `url` as a sheet in the Messenger (not in the Inbox)."""

    type: Literal["sheet"] = "sheet"
    url: str

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(f"sheet action: url {value!r} must start with https://, Intercom loads sheets over HTTPS only")
        return value


Action = Annotated[Union[SubmitAction, UrlAction, SheetAction], Field(discriminator="type")]
