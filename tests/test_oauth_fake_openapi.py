"""The fake Intercom's replies validate against the REST API 2.14 OpenAPI description."""

from __future__ import annotations

import functools

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator, validate

from oauth.fake_intercom import FakeWorkspace
from oauth.testing import running_fake_intercom
from tests.conftest import OPENAPI_DIR

CLIENT_ID = "spec-client"
SECRET = "spec_secret_not_real"
WORKSPACE = "wsspec001"


@functools.cache
def spec() -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(OPENAPI_DIR / "api-2.14.yaml", encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


def check(path: str, method: str, status: int, body: dict) -> None:
    """Validate `body` against the schema the spec declares for this operation and status."""
    document = spec()
    content = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]
    schema = {**content["schema"], "components": document["components"]}
    validate(body, schema, cls=OAS30Validator)


@pytest.fixture
async def fake_api():
    async with running_fake_intercom({CLIENT_ID: SECRET}) as servers:
        servers.fake.add_workspace(FakeWorkspace(WORKSPACE, "Spec shop", region="EU"))
        servers.fake.seed(WORKSPACE, tickets=3, conversations=3)
        token = servers.fake.issue_token(WORKSPACE)
        async with httpx.AsyncClient(base_url=servers.urls["EU"], headers={"Authorization": f"Bearer {token}"}) as client:
            yield servers.fake, client


async def test_fake_me_matches_spec(fake_api):
    _, client = fake_api

    response = await client.get("/me")

    assert response.status_code == 200
    check("/me", "get", 200, response.json())
    assert response.json()["app"]["id_code"] == WORKSPACE


@pytest.mark.parametrize("kind", ["tickets", "conversations"])
async def test_fake_search_matches_spec(fake_api, kind):
    _, client = fake_api
    query = {"query": {"field": "updated_at", "operator": ">", "value": 0}, "pagination": {"per_page": 2}}

    first = await client.post(f"/{kind}/search", json=query)
    cursor = first.json()["pages"]["next"]["starting_after"]
    second = await client.post(f"/{kind}/search", json={**query, "pagination": {"per_page": 2, "starting_after": cursor}})

    check(f"/{kind}/search", "post", 200, first.json())
    check(f"/{kind}/search", "post", 200, second.json())
    assert len(first.json()[kind]) == 2
    assert len(second.json()[kind]) == 1
    assert "next" not in second.json()["pages"]


async def test_fake_contact_matches_spec(fake_api):
    fake, client = fake_api
    contact_id = next(iter(fake.workspaces[WORKSPACE].contacts))

    response = await client.get(f"/contacts/{contact_id}")

    check("/contacts/{contact_id}", "get", 200, response.json())


async def test_fake_note_reply_matches_spec(fake_api):
    fake, client = fake_api
    body = {"message_type": "note", "type": "admin", "admin_id": "991267459", "body": "<p>Summary</p>"}

    response = await client.post(f"/conversations/{WORKSPACE}-v0/reply", json=body)

    check("/conversations/{conversation_id}/reply", "post", 200, response.json())
    assert fake.notes[0]["body"] == "<p>Summary</p>"


async def test_fake_errors_match_spec(fake_api):
    fake, client = fake_api

    missing = await client.post("/conversations/nothing/reply",
                                json={"message_type": "note", "type": "admin", "admin_id": "1", "body": "x"})
    unauthorized = await client.get("/contacts/anyone", headers={"Authorization": "Bearer wrong"})
    fake.fail_next = [(429, 5)]
    limited = await client.get("/me")

    check("/conversations/{conversation_id}/reply", "post", 404, missing.json())
    check("/contacts/{contact_id}", "get", 401, unauthorized.json())
    assert limited.status_code == 429
    validate(limited.json(), {"$ref": "#/components/schemas/error", "components": spec()["components"]}, cls=OAS30Validator)
    assert limited.json()["errors"][0]["code"] == "rate_limit_exceeded"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Reset"]) > 0
