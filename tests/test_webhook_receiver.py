"""The webhook receiver over real HTTP and the embedded database."""

from __future__ import annotations

import asyncio
import json

import pytest
from pymongo.errors import DuplicateKeyError

from app.embedded_db import EmbeddedMongo
from oauth.signing import sign_hub
from tests.conftest import TEST_WORKSPACE_ID
from tests.webhook_requests import WEBHOOK_PATH, fixture_files, fixture_signature, make_body, post_signed


async def test_every_fixture_stored_once(live_server):
    for path in fixture_files():
        body = path.read_bytes()
        headers = {"Content-Type": "application/json", "X-Hub-Signature": fixture_signature(path)}
        response = await live_server.client.post(WEBHOOK_PATH, content=body, headers=headers)
        assert response.status_code == 200, (path.name, response.text)
        assert response.json()["status"] == "stored", path.name

    documents = await live_server.database.notifications.find({}).to_list()
    assert len(documents) == len(fixture_files())
    by_body = {document["body"].encode(): document for document in documents}
    for path in fixture_files():
        envelope = json.loads(path.read_bytes())
        document = by_body[path.read_bytes()]
        assert document["app"] == "default"
        assert document["workspace_id"] == TEST_WORKSPACE_ID
        assert document["topic"] == envelope["topic"]
        assert document["status"] in ("pending", "processing", "done")
        if envelope["id"] is not None:
            assert document["notification_id"] == envelope["id"]


async def test_document_fields_match_schema(live_server):
    path = next(p for p in fixture_files() if p.name == "webhook.ticket.closed.json")
    response = await post_signed(live_server.client, path.read_bytes())
    assert response.status_code == 200

    document = await live_server.database.notifications.find_one({"topic": "ticket.closed"})
    assert document["notification_id"] == "notif_e6a7c9fd-182b-4e47-a7ee-d9f91b8be714"
    assert document["order_key"] == "ticket:631"
    assert document["created_at"].timestamp() == 1781258700
    assert document["delivery_attempts"] == 1
    assert document["attempts"] == 0
    assert document["received_at"] is not None
    assert document["body"].encode() == path.read_bytes()


async def test_ping_stored_with_generated_id(live_server):
    path = next(p for p in fixture_files() if p.name == "webhook.ping.json")
    first = await post_signed(live_server.client, path.read_bytes())
    second = await post_signed(live_server.client, path.read_bytes())

    assert first.status_code == 200
    assert second.status_code == 200
    pings = await live_server.database.notifications.find({"topic": "ping"}).to_list()
    assert len(pings) == 2
    assert all(ping["notification_id"].startswith("ping_") for ping in pings)
    assert pings[0]["notification_id"] != pings[1]["notification_id"]


async def test_duplicate_delivery_stored_once(live_server):
    body = make_body()

    first = await post_signed(live_server.client, body)
    second = await post_signed(live_server.client, body)

    assert first.json()["status"] == "stored"
    assert second.status_code == 200
    assert second.json()["status"] == "duplicate"
    assert await live_server.database.notifications.count_documents({}) == 1


async def test_concurrent_duplicates_stored_once(live_server):
    body = make_body()

    responses = await asyncio.gather(*(post_signed(live_server.client, body) for _ in range(8)))

    assert [response.status_code for response in responses] == [200] * 8
    statuses = sorted(response.json()["status"] for response in responses)
    assert statuses == ["duplicate"] * 7 + ["stored"]
    assert await live_server.database.notifications.count_documents({}) == 1


async def test_unique_index_rejects_duplicate(live_server):
    collection = live_server.database.notifications
    await collection.insert_one({"app": "default", "notification_id": "notif_x"})

    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"app": "default", "notification_id": "notif_x"})


async def test_head_answers_empty_200(live_server):
    response = await live_server.client.head(WEBHOOK_PATH)

    assert response.status_code == 200
    assert response.content == b""


async def test_unknown_app_gets_404(live_server):
    body = make_body()

    response = await post_signed(live_server.client, body, path="/intercom/nosuchapp/webhooks")

    assert response.status_code == 404
    assert "'nosuchapp'" in response.json()["error"]
    assert await live_server.database.notifications.count_documents({}) == 0


async def test_head_unknown_app_gets_404(live_server):
    response = await live_server.client.head("/intercom/nosuchapp/webhooks")

    assert response.status_code == 404


async def test_database_down_gets_503(start_server, tmp_path):
    embedded = EmbeddedMongo(tmp_path / "stopped-mongo")
    embedded.start()
    try:
        server = await start_server(
            MONGODB_URI=embedded.uri, WEBHOOK_INSERT_TIMEOUT_SECONDS=0.3, WORKERS_IN_PROCESS=False
        )
        await asyncio.to_thread(embedded.stop)

        response = await post_signed(server.client, make_body())
    finally:
        embedded.stop()

    assert response.status_code == 503
    assert response.json()["error"] == "the notification could not be stored; retry later"


async def test_unknown_topic_and_workspace_stored(live_server):
    body = json.dumps({
        "type": "notification_event", "app_id": "other_workspace", "topic": "made.up.topic",
        "id": "notif_unknown_topic", "data": {"item": {"type": "thing", "id": None}}, "created_at": 1781258400,
    }).encode()

    response = await post_signed(live_server.client, body)

    assert response.status_code == 200
    document = await live_server.database.notifications.find_one({"notification_id": "notif_unknown_topic"})
    assert document["workspace_id"] == "other_workspace"
    assert document["order_key"] is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "missing"),
        ("", "missing"),
        ("SHA1=0123456789abcdef0123456789abcdef01234567", "must start with 'sha1='"),
        ("0123456789abcdef0123456789abcdef01234567", "must start with 'sha1='"),
        ("sha256=0123456789abcdef0123456789abcdef01234567", "must start with 'sha1='"),
        ("sha1=", "40 hex characters"),
        ("sha1=0123456789abcdef", "40 hex characters"),
        ("sha1=0123456789abcdef0123456789abcdef0123456789", "40 hex characters"),
        ("sha1=zz23456789abcdef0123456789abcdef01234567", "40 hex characters"),
        ("sha1=é123456789abcdef0123456789abcdef0123456", "non-ASCII"),
        ("wrong-secret", "does not match"),
        ("other-bytes", "does not match"),
    ],
)
async def test_malformed_signature_gets_401(live_server, header, expected):
    body = make_body()
    headers = {"Content-Type": "application/json"}
    if header == "wrong-secret":
        headers["X-Hub-Signature"] = sign_hub(body, "not_the_secret")
    elif header == "other-bytes":
        headers["X-Hub-Signature"] = sign_hub(body + b" ", "test_client_secret_not_real")
    elif header is not None:
        headers["X-Hub-Signature"] = header

    response = await live_server.client.post(
        WEBHOOK_PATH, content=body, headers={k: v.encode() for k, v in headers.items()}
    )

    assert response.status_code == 401
    assert "X-Hub-Signature" in response.json()["error"]
    assert expected in response.json()["error"]
    assert await live_server.database.notifications.count_documents({}) == 0


async def test_oversize_body_gets_413(start_server):
    server = await start_server(WEBHOOK_MAX_BODY_BYTES=2048)
    body = make_body(item={"type": "ticket", "id": "1", "padding": "x" * 4096})

    response = await post_signed(server.client, body)

    assert response.status_code == 413
    assert "WEBHOOK_MAX_BODY_BYTES (2048 bytes)" in response.json()["error"]
    assert await server.database.notifications.count_documents({}) == 0


async def test_oversize_chunked_body_gets_413(start_server):
    server = await start_server(WEBHOOK_MAX_BODY_BYTES=2048)
    body = make_body(item={"type": "ticket", "id": "1", "padding": "x" * 4096})

    async def chunks():
        for start in range(0, len(body), 512):
            yield body[start:start + 512]

    response = await server.client.post(
        WEBHOOK_PATH, content=chunks(), headers={"X-Hub-Signature": sign_hub(body, "test_client_secret_not_real")}
    )

    assert response.status_code == 413
    assert await server.database.notifications.count_documents({}) == 0


async def test_slow_body_times_out_with_408(live_server):
    live_server.app.config["BODY_TIMEOUT"] = 0.5
    body = make_body()
    host, port = live_server.settings.HOST, live_server.settings.PORT
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"X-Hub-Signature: {sign_hub(body, 'test_client_secret_not_real')}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    try:
        # Half the body, then nothing: the receiver must give up instead of waiting for the rest.
        writer.write(head.encode() + body[: len(body) // 2])
        await writer.drain()
        response = await asyncio.wait_for(reader.read(65536), timeout=5.0)
    finally:
        writer.close()

    status_line, _, rest = response.partition(b"\r\n")
    assert status_line.split()[1] == b"408"
    assert b"timed out reading the request body after 0.5 s" in rest
    assert await live_server.database.notifications.count_documents({}) == 0


async def test_invalid_json_gets_400(live_server):
    response = await post_signed(live_server.client, b'{"type": "notification_event", ')

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([], "expected a JSON object"),
        ({}, "field 'type' is missing"),
        ({"type": "notification_event", "app_id": "ws", "topic": "ticket.created"}, "field 'data' is missing"),
        ({"type": "notification_event", "app_id": "ws", "topic": "ticket.created", "data": {}},
         "field 'data.item' is missing"),
        ({"type": "something_else", "app_id": "ws", "topic": "t", "data": {"item": {}}}, "field 'type' is invalid"),
        ({"type": "notification_event", "app_id": "ws", "topic": "ticket.created", "id": None,
          "data": {"item": {}}}, "field 'id' is null"),
        ({"type": "notification_event", "app_id": 5, "topic": "t", "id": "n", "data": {"item": {}}},
         "field 'app_id' is invalid"),
        ({"type": "notification_event", "app_id": "ws", "topic": "t", "id": "n", "data": {"item": []}},
         "field 'data.item' is invalid (expected a JSON object)"),
        ({"type": "notification_event", "app_id": "ws", "topic": "t", "id": "n", "data": {"item": {}},
          "delivery_attempts": 10**30}, "field 'delivery_attempts' is invalid"),
        ({"type": "notification_event", "app_id": "ws", "topic": "t", "id": "n", "data": {"item": {}},
          "created_at": True}, "field 'created_at' is invalid"),
        ({"type": "notification_event", "app_id": "ws", "topic": "t", "id": "n", "data": {"item": {}},
          "created_at": "1733000000"}, "field 'created_at' is invalid"),
        ({"type": "notification_event", "app_id": "ws\u0000", "topic": "t", "id": "n", "data": {"item": {}}},
         "field 'app_id' contains a NUL character"),
        ({"type": "notification_event", "app_id": "ws", "topic": "t", "id": "notif_\u0000", "data": {"item": {}}},
         "field 'id' contains a NUL character"),
    ],
)
async def test_non_notification_gets_400(live_server, payload, reason):
    response = await post_signed(live_server.client, json.dumps(payload).encode())

    assert response.status_code == 400
    assert reason in response.json()["error"]


async def test_byte_order_mark_named(live_server):
    body = b"\xef\xbb\xbf" + make_body()

    response = await post_signed(live_server.client, body)

    assert response.status_code == 400
    assert "byte order mark" in response.json()["error"]
    assert response.json() == {
        "error": "body is not valid JSON: it starts with a UTF-8 byte order mark (remove the mark before sending)"
    }


async def test_null_item_fields_stored(live_server):
    body = make_body(topic="conversation.admin.closed", item={"type": "conversation", "id": None, "state": None})

    response = await post_signed(live_server.client, body)

    assert response.status_code == 200
    document = await live_server.database.notifications.find_one({})
    assert document["order_key"] is None


async def test_nul_in_contact_id_not_stuck(live_server):
    from tests.handlers.fixtures import wait_for
    from tests.webhook_requests import make_body, post_signed

    item = {"type": "contact", "id": "a\u0000b", "role": "user", "updated_at": 1781258400}
    for _ in range(2):
        assert (await post_signed(live_server.client, make_body("contact.user.created", item=item))).status_code == 200

    # Each notification gets its attempts: none waits forever on an order lock it cannot take.
    notifications = live_server.database.notifications
    await wait_for(lambda: _all_attempted(notifications))


async def _all_attempted(notifications) -> bool:
    return await notifications.count_documents({"attempts": 0}) == 0
