"""Canvas Kit request models: every shared request fixture, older shapes, missing and unknown fields."""

from __future__ import annotations

import json

import pytest

from canvas.requests import (
    InboxInitializeRequest,
    InboxSubmitRequest,
    LiveCanvasRequest,
    MessengerConfigureRequest,
    MessengerInitializeRequest,
    MessengerSubmitRequest,
    MessengerSubmitSheetRequest,
)
from canvas.views import REQUEST_MODELS
from tests.conftest import INTERCOM_FIXTURES, TEST_WORKSPACE_ID

MODELS = {
    "canvas.inbox.initialize.request.json": InboxInitializeRequest,
    "canvas.inbox.submit.request.json": InboxSubmitRequest,
    "canvas.messenger.configure.request.json": MessengerConfigureRequest,
    "canvas.messenger.configure.submit.request.json": MessengerConfigureRequest,
    "canvas.messenger.initialize.request.json": MessengerInitializeRequest,
    "canvas.messenger.submit.request.json": MessengerSubmitRequest,
    "canvas.messenger.submit-sheet.request.json": MessengerSubmitSheetRequest,
    "canvas.live.request.json": LiveCanvasRequest,
}


def _fixture(name: str) -> dict:
    return json.loads((INTERCOM_FIXTURES / name).read_bytes())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_request_fixture_parses(name):
    request = MODELS[name].model_validate(_fixture(name))

    assert request.workspace_id == TEST_WORKSPACE_ID
    assert request.workspace_region == "us"


CANVAS_FIELDS = {name: field for name in MODELS for field in ("current_canvas", "canvas") if field in _fixture(name)}


@pytest.mark.parametrize("name", sorted(CANVAS_FIELDS))
def test_fixture_canvas_round_trips(name):
    field = CANVAS_FIELDS[name]
    original = _fixture(name)

    request = MODELS[name].model_validate(original)

    assert getattr(request, field).model_dump(mode="json", exclude_unset=True) == original[field]
    assert request.stored_data == original[field].get("stored_data", {})


def test_contact_unknown_fields_kept():
    original = _fixture("canvas.inbox.initialize.request.json")

    request = InboxInitializeRequest.model_validate(original)

    assert request.contact.model_extra["custom_attributes"] == {"plan": "pro"}
    assert request.conversation.model_extra["priority"] == "not_priority"


def test_current_canvas_and_stored_data_kept():
    original = _fixture("canvas.inbox.submit.request.json")

    request = InboxSubmitRequest.model_validate(original)

    assert request.stored_data == {"customer_ref": "cust-10042", "ws": "ws7k2p9q"}
    assert request.current_canvas.model_dump(mode="json", exclude_unset=True) == original["current_canvas"]
    assert request.component_id == "lookup"
    assert request.input_values == original["input_values"]


def test_live_request_stored_data_from_canvas():
    request = LiveCanvasRequest.model_validate(_fixture("canvas.live.request.json"))

    assert request.stored_data == {"carrier": "sample_express"}
    assert request.viewer_id() == "66b0f1a2c3d4e5f601234567"


def test_older_app_id_names_workspace():
    request = InboxInitializeRequest.model_validate({"app_id": "wsOLD1", "contact": {"id": "c1"}})

    assert request.workspace_id == "wsOLD1"
    assert request.contact_id() == "c1"


def test_customer_stands_in_for_contact():
    request = InboxSubmitRequest.model_validate({"workspace_id": "w", "customer": {"id": "c2", "name": "Riley"}})

    assert request.contact_id() == "c2"
    assert request.contact.name == "Riley"


@pytest.mark.parametrize("spelling", ["colour", "color"])
def test_context_colour_spellings_accepted(spelling):
    context = {f"messenger_action_{spelling}": "#1f73b7", f"messenger_background_{spelling}": "#f4f6f8", "conversation_id": 42}

    request = MessengerSubmitRequest.model_validate({"workspace_id": "w", "context": context})

    assert request.context.messenger_action_colour == "#1f73b7"
    assert request.context.messenger_background_colour == "#f4f6f8"
    assert request.context.conversation_id == "42"


@pytest.mark.parametrize("kind", sorted(REQUEST_MODELS))
def test_minimal_body_parses_for_kind(kind):
    request = REQUEST_MODELS[kind].model_validate({"workspace_id": "w", "brand_new_field": {"x": 1}})

    assert request.workspace_id == "w"
    assert request.model_extra == {"brand_new_field": {"x": 1}}
    assert request.stored_data == {}


def test_numeric_ids_become_strings():
    request = MessengerSubmitRequest.model_validate({"workspace_id": "w", "user": {"id": 123}, "component_id": 7})

    assert request.viewer_id() == "123"
    assert request.component_id == "7"


def test_missing_workspace_rejected():
    with pytest.raises(ValueError, match="workspace_id"):
        InboxInitializeRequest.model_validate({"contact": {"id": "c1"}})


def test_user_preferred_over_contact():
    request = MessengerSubmitRequest.model_validate({"workspace_id": "w", "user": {"id": "u1"}, "contact": {"id": "c1"}})

    assert request.viewer_id() == "u1"
