"""Pydantic models of Intercom's Canvas Kit components, content and canvas objects.

Each model checks the documented constraints when it is built: required ids, allowed enum
values, option counts, list image sizes, HTTPS images, which actions a component accepts and
unique ids in one canvas. A mistake fails here with a `ValueError` that names the component
and the field, instead of showing as a blank card in Intercom. `to_json()` leaves out unset
fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from canvas.actions import Action, SheetAction, SubmitAction, UrlAction

__all__ = [
    "ButtonComponent",
    "Canvas",
    "CheckboxComponent",
    "Component",
    "Content",
    "DataTableComponent",
    "DataTableItem",
    "DividerComponent",
    "DropdownComponent",
    "ImageComponent",
    "InputComponent",
    "ListComponent",
    "ListItem",
    "Option",
    "SingleSelectComponent",
    "SpacerComponent",
    "TextComponent",
    "TextareaComponent",
]

# Dropdown and single-select take 2 to 10 options in the current reference.
# NOTE: older reference pages allow 11; Intercom's behaviour between 10 and 11 is unverified.
MIN_SELECT_OPTIONS = 2
MAX_SELECT_OPTIONS = 10

ComponentId = Annotated[str, Field(min_length=1)]
SaveState = Literal["unsaved", "saved", "failed"]
BottomMargin = Literal["none"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """Serialise to Intercom's JSON, leaving out every field that was not set."""
        return self.model_dump(mode="json", exclude_none=True)


def _require_https(owner: str, field: str, url: str) -> str:
    if not url.startswith("https://"):
        raise ValueError(f"{owner}: {field} {url!r} must start with https://, Intercom does not load images over HTTP")
    return url


class Option(_Model):
    """One choice of a dropdown, single-select or checkbox."""

    type: Literal["option"] = "option"
    id: ComponentId
    text: str
    disabled: bool | None = None


class TextComponent(_Model):
    """A line or paragraph of text; Markdown bold and links render."""

    type: Literal["text"] = "text"
    id: str | None = None
    text: str
    align: Literal["left", "center", "right"] | None = None
    style: Literal["header", "paragraph", "muted", "error"] | None = None
    bottom_margin: BottomMargin | None = None


class ImageComponent(_Model):
    """An HTTPS image of a fixed size; its only action is a URL action."""

    type: Literal["image"] = "image"
    id: str | None = None
    url: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    align: Literal["left", "center", "right", "full_width"] | None = None
    rounded: bool | None = None
    bottom_margin: BottomMargin | None = None
    action: UrlAction | None = None

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        return _require_https("image", "url", value)


class DividerComponent(_Model):
    """A horizontal rule."""

    type: Literal["divider"] = "divider"
    id: str | None = None
    bottom_margin: BottomMargin | None = None


class SpacerComponent(_Model):
    """Empty vertical space."""

    type: Literal["spacer"] = "spacer"
    id: str | None = None
    size: Literal["xs", "s", "m", "l", "xl"] | None = None


class DataTableItem(_Model):
    """One row of a data table."""

    type: Literal["field-value"] = "field-value"
    field: str
    value: str


class DataTableComponent(_Model):
    """A two-column table of field and value rows."""

    type: Literal["data-table"] = "data-table"
    items: list[DataTableItem]


class ListItem(_Model):
    """One row of a list; `image_width` and `image_height` are required with `image`."""

    type: Literal["item"] = "item"
    id: ComponentId
    title: str
    subtitle: str | None = None
    tertiary_text: str | None = None
    image: str | None = None
    image_width: int | None = Field(default=None, gt=0)
    image_height: int | None = Field(default=None, gt=0)
    rounded_image: bool | None = None
    disabled: bool | None = None
    action: Action | None = None

    @model_validator(mode="after")
    def _image_sizes(self) -> ListItem:
        if self.image is None:
            return self
        _require_https(f"list item {self.id!r}", "image", self.image)
        missing = [name for name in ("image_width", "image_height") if getattr(self, name) is None]
        if missing:
            verb = "are" if len(missing) > 1 else "is"
            raise ValueError(f"list item {self.id!r}: {' and '.join(missing)} {verb} required when image is set")
        return self


class ListComponent(_Model):
    """A list of items, each optionally clickable through its action."""

    type: Literal["list"] = "list"
    items: list[ListItem]
    disabled: bool | None = None


class ButtonComponent(_Model):
    """A button that runs its action."""

    type: Literal["button"] = "button"
    id: ComponentId
    label: str
    action: Action
    style: Literal["primary", "secondary", "link"] | None = None
    disabled: bool | None = None


class InputComponent(_Model):
    """A single-line text input; with an action it shows an inline button."""

    type: Literal["input"] = "input"
    id: ComponentId
    label: str | None = None
    placeholder: str | None = None
    value: str | None = None
    action: Action | None = None
    save_state: SaveState | None = None
    disabled: bool | None = None


class TextareaComponent(_Model):
    """A multi-line text input, submitted through a button."""

    type: Literal["textarea"] = "textarea"
    id: ComponentId
    label: str | None = None
    placeholder: str | None = None
    value: str | None = None
    error: bool | None = None
    disabled: bool | None = None


class _Select(_Model):
    type: str  # each subclass fixes it; declared here so that it serialises first
    id: ComponentId
    options: list[Option]
    label: str | None = None
    value: str | None = None
    save_state: SaveState | None = None
    disabled: bool | None = None

    @model_validator(mode="after")
    def _option_count(self):
        count = len(self.options)
        if not MIN_SELECT_OPTIONS <= count <= MAX_SELECT_OPTIONS:
            raise ValueError(
                f"{self.type} {self.id!r}: options must have {MIN_SELECT_OPTIONS} to "
                f"{MAX_SELECT_OPTIONS} entries, got {count}"
            )
        if self.value is not None and self.value not in {option.id for option in self.options}:
            raise ValueError(f"{self.type} {self.id!r}: value {self.value!r} is not one of its option ids")
        return self


class DropdownComponent(_Select):
    """A drop-down menu of 2 to 10 options, submitted through a button."""

    type: Literal["dropdown"] = "dropdown"


class SingleSelectComponent(_Select):
    """A row of 2 to 10 option buttons; with an action, choosing one submits."""

    type: Literal["single-select"] = "single-select"
    action: Action | None = None


class CheckboxComponent(_Model):
    """A group of checkboxes; Intercom names the array `option`, singular."""

    type: Literal["checkbox"] = "checkbox"
    id: ComponentId
    label: str
    option: list[Option] = Field(min_length=1)
    value: list[str] | None = None
    save_state: SaveState | None = None
    disabled: bool | None = None

    @model_validator(mode="after")
    def _values_are_options(self) -> CheckboxComponent:
        known = {option.id for option in self.option}
        unknown = [value for value in self.value or [] if value not in known]
        if unknown:
            raise ValueError(f"checkbox {self.id!r}: value names unknown option ids {unknown}")
        return self


Component = Annotated[
    Union[
        TextComponent,
        ImageComponent,
        DividerComponent,
        SpacerComponent,
        DataTableComponent,
        ListComponent,
        ButtonComponent,
        InputComponent,
        TextareaComponent,
        DropdownComponent,
        SingleSelectComponent,
        CheckboxComponent,
    ],
    Field(discriminator="type"),
]


class Content(_Model):
    """The components of one canvas, with ids unique across components and list items."""

    components: list[Component]

    @model_validator(mode="after")
    def _unique_ids(self) -> Content:
        seen: set[str] = set()
        for component_id in _component_ids(self.components):
            if component_id in seen:
                raise ValueError(f"component id {component_id!r} is used twice in one canvas; ids must be unique")
            seen.add(component_id)
        return self

    def check_for_inbox(self) -> None:
        """Raise ValueError naming the first component whose sheet action the Inbox cannot run."""
        for component in self.components:
            for owner, action in _actions(component):
                if isinstance(action, SheetAction):
                    raise ValueError(f"{owner}: sheet actions work only in the Messenger, use a url or submit action in the Inbox")


class Canvas(_Model):
    """A canvas: static `content`, or a live `content_url`, plus `stored_data` for the next request."""

    content: Content | None = None
    content_url: str | None = None
    stored_data: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _content_or_url(self) -> Canvas:
        if self.content is None and self.content_url is None:
            raise ValueError("canvas: content or content_url is required")
        return self


def _component_ids(components: list) -> list[str]:
    ids: list[str] = []
    for component in components:
        component_id = getattr(component, "id", None)
        if component_id:
            ids.append(component_id)
        if isinstance(component, ListComponent):
            ids.extend(item.id for item in component.items)
    return ids


def _actions(component) -> list[tuple[str, SubmitAction | UrlAction | SheetAction]]:
    found = []
    action = getattr(component, "action", None)
    if action is not None:
        found.append((f"{component.type} {getattr(component, 'id', None)!r}", action))
    if isinstance(component, ListComponent):
        found.extend((f"list item {item.id!r}", item.action) for item in component.items if item.action is not None)
    return found
