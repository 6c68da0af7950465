from app.embedded_db import EmbeddedMongo, EmbeddedMongoError

import pytest


async def test_health_and_readiness(live_server):
    assert (await live_server.client.get("/healthz")).status_code == 200
    ready = await live_server.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


def test_embedded_server_rejects_second_owner(tmp_path):
    with EmbeddedMongo(tmp_path) as first:
        assert first.is_running()
        with pytest.raises(EmbeddedMongoError, match="in use by process"):
            EmbeddedMongo(tmp_path).start()
        assert EmbeddedMongo(tmp_path).attach() == first.uri
    assert not (tmp_path / "nx-27017.pid").exists()
    assert EmbeddedMongo(tmp_path).attach() is None
