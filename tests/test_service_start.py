import os
import signal
import time

import pytest

from app.embedded_db import EmbeddedMongo, EmbeddedMongoError


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


def test_killed_embedded_server_not_running(tmp_path):
    with EmbeddedMongo(tmp_path) as embedded:
        pid = embedded.running_pid()
        os.kill(pid, signal.SIGKILL)
        # Not reaped yet: the process stays a zombie of this one until `stop` waits for it.
        deadline = time.monotonic() + 5
        while EmbeddedMongo(tmp_path).running_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)

        assert EmbeddedMongo(tmp_path).running_pid() is None
