"""Canvas Kit component models: construction checks, serialisation, and Intercom's 2.11 schemas."""

from __future__ import annotations

import json

import pytest

from canvas.actions import SheetAction, SubmitAction, UrlAction
from canvas.components import (
    ButtonComponent,
    Canvas,
    CheckboxComponent,
    Content,
    DataTableComponent,
    DataTableItem,
    DividerComponent,
    DropdownComponent,
    ImageComponent,
    InputComponent,
    ListComponent,
    ListItem,
    Option,
    SingleSelectComponent,
    SpacerComponent,
    TextareaComponent,
    TextComponent,
)
from canvas.responses import ConfigureResults, InitializeResponse, LiveCanvasResponse, SubmitResponse
from tests.conftest import INTERCOM_FIXTURES
from tests.openapi import schema_errors, validate

IMAGE = "https://static.example.com/img/icon-48.png"


def _options(count: int, prefix: str = "o") -> list[Option]:
    return [Option(id=f"{prefix}{n}", text=f"Option {n}") for n in range(count)]


def _every_component() -> list:
    """Build every component with every documented enum value at least once."""
    components: list = []
    for align in ("left", "center", "right"):
        for style in ("header", "paragraph", "muted", "error"):
            components.append(TextComponent(id=f"text-{align}-{style}", text=f"{style} {align}", align=align, style=style))

    components.append(TextComponent(text="No margin", bottom_margin="none"))

    for align in ("left", "center", "right", "full_width"):
        components.append(
            ImageComponent(id=f"image-{align}", url=IMAGE, width=48, height=48, align=align, rounded=align == "center",
                           bottom_margin="none", action=UrlAction(url="https://www.example.com"))
        )

    components.append(DividerComponent(id="divider", bottom_margin="none"))
    for size in ("xs", "s", "m", "l", "xl"):
        components.append(SpacerComponent(id=f"spacer-{size}", size=size))

    components.append(DataTableComponent(items=[DataTableItem(field="Plan", value="Pro")]))
    components.append(
        ListComponent(
            disabled=False,
            items=[
                ListItem(id="item-submit", title="Submit", subtitle="sub", tertiary_text="tertiary", action=SubmitAction()),
                ListItem(id="item-url", title="URL", action=UrlAction(url="https://www.example.com/docs")),
                ListItem(id="item-sheet", title="Sheet", action=SheetAction(url="https://app.example.com/sheet")),
                ListItem(id="item-image", title="Image", image=IMAGE, image_width=48, image_height=48,
                         rounded_image=True, disabled=True),
            ],
        )
    )

    actions = {"submit": SubmitAction(), "url": UrlAction(url="https://www.example.com"),
               "sheet": SheetAction(url="https://app.example.com/sheet")}
    for style in ("primary", "secondary", "link"):
        for name, action in actions.items():
            components.append(ButtonComponent(id=f"button-{style}-{name}", label=f"{style} {name}", style=style, action=action))
    components.append(ButtonComponent(id="button-disabled", label="Disabled", disabled=True, action=SubmitAction()))

    for state in ("unsaved", "saved", "failed"):
        components.append(InputComponent(id=f"input-{state}", label="Input", placeholder="type", value="v",
                                          save_state=state, disabled=False, action=SubmitAction()))
        components.append(DropdownComponent(id=f"dropdown-{state}", label="Dropdown", options=_options(2), value="o0",
                                            save_state=state, disabled=False))
        components.append(SingleSelectComponent(id=f"select-{state}", label="Select", options=_options(10), value="o9",
                                                save_state=state, disabled=False, action=SubmitAction()))
        components.append(CheckboxComponent(id=f"checkbox-{state}", label="Checkbox",
                                            option=[Option(id="c1", text="One"), Option(id="c2", text="Two", disabled=True)],
                                            value=["c1"], save_state=state, disabled=False))

    components.append(TextareaComponent(id="textarea", label="Textarea", placeholder="longer", value="v", error=True, disabled=False))

    return components


def test_every_component_validates_against_schema():
    canvas = Canvas(content=Content(components=_every_component()), stored_data={"k": "v"})
    body = SubmitResponse(canvas=canvas, card_creation_options={"a": 1}, event={"type": "completed"}).to_json()

    validate(body, "submit_response")
    for component in body["canvas"]["content"]["components"]:
        validate(component, "component")


def test_every_component_round_trips_exactly():
    components = _every_component()
    body = Content(components=components).to_json()

    assert Content.model_validate(body).to_json() == body
    assert len(body["components"]) == len(components)


def test_serialisation_leaves_out_unset_fields():
    button = ButtonComponent(id="b", label="Go", action=SubmitAction())

    assert button.to_json() == {"type": "button", "id": "b", "label": "Go", "action": {"type": "submit"}}
    assert TextComponent(text="hi").to_json() == {"type": "text", "text": "hi"}


def test_checkbox_serialises_singular_option_key():
    checkbox = CheckboxComponent(id="cb", label="Pick", option=_options(1))

    assert "option" in checkbox.to_json()
    assert "options" not in checkbox.to_json()
    with pytest.raises(ValueError, match="options"):
        CheckboxComponent.model_validate({"type": "checkbox", "id": "cb", "label": "x", "options": [{"type": "option", "id": "a", "text": "A"}]})


INVALID_COMPONENTS = [
    (lambda: ButtonComponent.model_validate({"label": "Go", "action": {"type": "submit"}}), "ButtonComponent", "id"),
    (lambda: ButtonComponent(id="b", label="Go", action={"type": "open"}), "ButtonComponent", "action"),
    (lambda: TextComponent(text="x", style="bold"), "TextComponent", "style"),
    (lambda: TextComponent(text="x", align="justify"), "TextComponent", "align"),
    (lambda: SpacerComponent(size="xxl"), "SpacerComponent", "size"),
    (lambda: ImageComponent(url=IMAGE, width=48, height=48, align="middle"), "ImageComponent", "align"),
    (lambda: InputComponent(id="i", save_state="done"), "InputComponent", "save_state"),
    (lambda: DropdownComponent(id="dd", options=_options(1)), "dropdown 'dd'", "options"),
    (lambda: DropdownComponent(id="dd", options=_options(11)), "dropdown 'dd'", "options"),
    (lambda: SingleSelectComponent(id="ss", options=_options(1)), "single-select 'ss'", "options"),
    (lambda: DropdownComponent(id="dd", options=_options(2), value="missing"), "dropdown 'dd'", "value"),
    (lambda: CheckboxComponent(id="cb", label="x", option=[]), "CheckboxComponent", "option"),
    (lambda: CheckboxComponent(id="cb", label="x", option=_options(1), value=["zz"]), "checkbox 'cb'", "value"),
    (lambda: ListItem(id="li", title="t", image=IMAGE), "list item 'li'", "image_width and image_height"),
    (lambda: ListItem(id="li", title="t", image=IMAGE, image_width=48), "list item 'li'", "image_height"),
    (lambda: ListItem(id="li", title="t", image="http://example.com/a.png", image_width=1, image_height=1), "list item 'li'", "https"),
    (lambda: ListItem.model_validate({"title": "t"}), "ListItem", "id"),
    (lambda: ImageComponent(url="http://example.com/a.png", width=1, height=1), "image", "https"),
    (lambda: ImageComponent(url=IMAGE, width=0, height=1), "ImageComponent", "width"),
    (lambda: ImageComponent.model_validate({"url": IMAGE, "width": 1, "height": 1, "action": {"type": "submit"}}), "ImageComponent", "action"),
    (lambda: ButtonComponent(id="", label="Go", action=SubmitAction()), "ButtonComponent", "id"),
    (lambda: ButtonComponent(id="b", label="Go", action=SheetAction(url="http://example.com")), "sheet action", "https"),
    (lambda: TextComponent(text="x", new_tab=True), "TextComponent", "new_tab"),
    (lambda: Content(components=[TextComponent(id="a", text="x"), ButtonComponent(id="a", label="y", action=SubmitAction())]), "component id 'a'", "unique"),
    (lambda: Content(components=[ButtonComponent(id="a", label="y", action=SubmitAction()), ListComponent(items=[ListItem(id="a", title="t")])]), "component id 'a'", "unique"),
    (lambda: Canvas(stored_data={}), "canvas", "content or content_url"),
]


@pytest.mark.parametrize(("build", "component", "field"), INVALID_COMPONENTS)
def test_invalid_component_names_field(build, component, field):
    with pytest.raises(ValueError) as raised:
        build()

    assert component in str(raised.value)
    assert field in str(raised.value)


def test_sheet_action_rejected_for_inbox():
    button = ButtonComponent(id="open", label="Open", action=SheetAction(url="https://app.example.com/sheet"))
    item = ListItem(id="row", title="Row", action=SheetAction(url="https://app.example.com/sheet"))

    with pytest.raises(ValueError, match="button 'open': sheet actions work only in the Messenger"):
        Content(components=[button]).check_for_inbox()
    with pytest.raises(ValueError, match="list item 'row': sheet actions"):
        Content(components=[ListComponent(items=[item])]).check_for_inbox()
    Content(components=[ButtonComponent(id="go", label="Go", action=SubmitAction())]).check_for_inbox()


RESPONSE_FIXTURES = {
    "canvas.components.all.response.json": ("submit_response", SubmitResponse),
    "canvas.inbox.initialize.response.json": ("initialize_response", InitializeResponse),
    "canvas.inbox.submit.response.json": ("submit_response", SubmitResponse),
    "canvas.inbox.submit.insert-into-reply.response.json": ("submit_response", SubmitResponse),
    "canvas.messenger.configure.response.json": ("configure_response", InitializeResponse),
    "canvas.messenger.configure.results.response.json": ("configure_response", ConfigureResults),
    "canvas.messenger.error.response.json": ("submit_response", SubmitResponse),
    "canvas.messenger.initialize.response.json": ("initialize_response", InitializeResponse),
    "canvas.messenger.initialize.live.response.json": ("initialize_response", InitializeResponse),
    "canvas.messenger.submit.response.json": ("submit_response", SubmitResponse),
    "canvas.messenger.submit-sheet.response.json": ("submit_response", SubmitResponse),
    "canvas.live.response.json": ("live_canvas_response", LiveCanvasResponse),
}


def test_fixture_table_lists_every_response():
    on_disk = {path.name for path in INTERCOM_FIXTURES.glob("canvas.*.response.json")}

    assert on_disk == set(RESPONSE_FIXTURES)


@pytest.mark.parametrize("name", sorted(RESPONSE_FIXTURES))
def test_response_fixture_validates_and_parses(name):
    schema, model = RESPONSE_FIXTURES[name]
    body = json.loads((INTERCOM_FIXTURES / name).read_bytes())

    validate(body, schema)
    assert model.model_validate(body).to_json() == body


def test_published_schema_defects_are_real():
    live = json.loads((INTERCOM_FIXTURES / "canvas.live.response.json").read_bytes())
    content_url_only = json.loads((INTERCOM_FIXTURES / "canvas.messenger.initialize.live.response.json").read_bytes())

    assert schema_errors(live, "live_canvas_response", corrected=False)
    assert schema_errors(content_url_only, "initialize_response", corrected=False)
