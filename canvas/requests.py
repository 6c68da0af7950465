"""Models of the bodies Intercom POSTs to Canvas Kit endpoints, one per request kind.

The models are tolerant. Unknown fields are kept, missing ones default to None or empty, and
ids may arrive as numbers. The older shape names the workspace `app_id`, the Inbox submit
reference names the contact `customer`, and the colour keys are spelled `_colour` or `_color`.
Only a missing workspace id makes a body invalid. Everything here is untrusted input.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Admin",
    "CanvasRequest",
    "CanvasState",
    "Context",
    "InboxInitializeRequest",
    "InboxSubmitRequest",
    "LiveCanvasRequest",
    "MessengerConfigureRequest",
    "MessengerInitializeRequest",
    "MessengerSubmitRequest",
    "MessengerSubmitSheetRequest",
    "Person",
]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class Person(_Tolerant):
    """A contact (user or lead) as Intercom sends it as `contact`, `customer` or `user`."""

    id: str | None = None
    type: str | None = None
    role: str | None = None
    name: str | None = None
    email: str | None = None
    external_id: str | None = None


class Admin(_Tolerant):
    """The teammate who sent the request."""

    id: str | None = None
    type: str | None = None
    name: str | None = None
    email: str | None = None


class Conversation(_Tolerant):
    """The conversation the Inbox app is shown beside."""

    id: str | None = None
    state: str | None = None
    contacts: dict[str, Any] | None = None

    def contact_ids(self) -> list[str]:
        """Return the ids of the conversation's contacts, in Intercom's order."""
        listed = (self.contacts or {}).get("contacts") or []
        return [str(entry["id"]) for entry in listed if isinstance(entry, dict) and entry.get("id") is not None]


class Context(_Tolerant):
    """The location and colours of the Messenger that shows the app."""

    location: str | None = None
    conversation_id: str | None = None
    locale: str | None = None
    referrer: str | None = None
    messenger_action_colour: str | None = Field(
        default=None, validation_alias=AliasChoices("messenger_action_colour", "messenger_action_color")
    )
    messenger_background_colour: str | None = Field(
        default=None, validation_alias=AliasChoices("messenger_background_colour", "messenger_background_color")
    )


class CanvasState(_Tolerant):
    """A canvas Intercom sends back: the one shown before the action, with its `stored_data`.

    `content` stays raw JSON so that a canvas built by an older version of the app still parses.
    """

    content: dict[str, Any] | None = None
    content_url: str | None = None
    stored_data: dict[str, Any] = {}


class CanvasRequest(_Tolerant):
    """Fields every Canvas Kit request carries: the workspace, taken from the signed body."""

    workspace_id: str = Field(min_length=1)
    workspace_region: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _older_shapes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if not data.get("workspace_id") and data.get("app_id"):
            data["workspace_id"] = data["app_id"]
        if data.get("workspace_id") is None:
            data.pop("workspace_id", None)
        if data.get("contact") is None and isinstance(data.get("customer"), dict):
            data["contact"] = data["customer"]
        # A null value means "not sent"; let the defaults apply.
        return {key: value for key, value in data.items() if value is not None or key == "workspace_id"}

    @property
    def stored_data(self) -> dict[str, Any]:
        """Return the `stored_data` of the canvas the request came from, or an empty dict."""
        for name in ("current_canvas", "canvas"):
            state = getattr(self, name, None)
            if isinstance(state, CanvasState):
                return state.stored_data
        return {}


class InboxInitializeRequest(CanvasRequest):
    """Inbox initialize: the teammate opened the app beside a conversation."""

    admin: Admin | None = None
    conversation: Conversation | None = None
    contact: Person | None = None

    def contact_id(self) -> str | None:
        """Return the viewed contact's id: `contact`, else `customer`, else the conversation's first contact."""
        if self.contact is not None and self.contact.id:
            return self.contact.id
        if self.conversation is not None:
            listed = self.conversation.contact_ids()
            if listed:
                return listed[0]
        return None


class InboxSubmitRequest(InboxInitializeRequest):
    """Inbox submit: the teammate used a component with a submit action."""

    component_id: str | None = None
    input_values: dict[str, Any] = {}
    current_canvas: CanvasState | None = None


class MessengerConfigureRequest(CanvasRequest):
    """Messenger configure: the first call has no `component_id`; later calls carry the form."""

    admin: Admin | None = None
    context: Context | None = None
    component_id: str | None = None
    input_values: dict[str, Any] = {}
    current_canvas: CanvasState | None = None


class MessengerInitializeRequest(CanvasRequest):
    """Messenger initialize: a teammate inserted the card; `card_creation_options` contains its settings.

    Intercom sends no end user here, because the card is built once for every recipient.
    """

    card_creation_options: dict[str, Any] = {}
    context: Context | None = None
    contact: Person | None = None
    user: Person | None = None


class _MessengerUserRequest(CanvasRequest):
    context: Context | None = None
    user: Person | None = None
    contact: Person | None = None
    current_canvas: CanvasState | None = None

    def viewer_id(self) -> str | None:
        """Return the id of the end user who acted: `user`, else `contact`."""
        for person in (self.user, self.contact):
            if person is not None and person.id:
                return person.id
        return None


class MessengerSubmitRequest(_MessengerUserRequest):
    """Messenger submit: the end user used a component with a submit action."""

    component_id: str | None = None
    input_values: dict[str, Any] = {}


class MessengerSubmitSheetRequest(_MessengerUserRequest):
    """Messenger submit-sheet: the app's sheet page called `submitSheet(values)`."""

    sheet_values: dict[str, Any] = {}


class LiveCanvasRequest(CanvasRequest):
    """Live canvas: a card with a `content_url` is being viewed by `contact`."""

    canvas: CanvasState | None = None
    context: Context | None = None
    contact: Person | None = None
    user: Person | None = None

    def viewer_id(self) -> str | None:
        """Return the id of the viewer: `contact`, else `user`."""
        for person in (self.contact, self.user):
            if person is not None and person.id:
                return person.id
        return None
