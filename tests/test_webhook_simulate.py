"""`intercom-app simulate` against a live server on loopback."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.conftest import TEST_CLIENT_SECRET, TEST_ENCRYPTION_KEY
from tests.webhook_requests import fixture_files


async def run_simulate(tmp_path: Path, *args: str, secret: str = TEST_CLIENT_SECRET) -> tuple[int, str]:
    """Run `intercom-app simulate ARGS` in a child process; return its exit code and output."""
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATA_DIR": str(tmp_path / "simulate-data"),
        "INTERCOM_CLIENT_SECRET": secret,
        "TOKEN_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "simulate", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode, output.decode()


async def test_simulate_sends_every_fixture(live_server, tmp_path):
    code, output = await run_simulate(tmp_path, "--url", live_server.url)

    assert code == 0, output
    for path in fixture_files():
        assert f"200 {path.name}: stored" in output
    assert f"{len(fixture_files())} of {len(fixture_files())} webhooks accepted" in output
    assert await live_server.database.notifications.count_documents({}) == len(fixture_files())


async def test_simulate_named_file_twice(live_server, tmp_path):
    path = fixture_files()[0]

    first_code, _ = await run_simulate(tmp_path, "webhooks", str(path), "--url", live_server.url)
    code, output = await run_simulate(tmp_path, str(path), "--url", live_server.url)

    assert first_code == 0
    assert code == 0, output
    assert f"200 {path.name}: duplicate" in output


async def test_simulate_wrong_secret_exits_1(live_server, tmp_path):
    code, output = await run_simulate(tmp_path, "--url", live_server.url, secret="not_the_secret")

    assert code == 1
    assert "401 webhook.ping.json: X-Hub-Signature does not match the request body" in output
    assert await live_server.database.notifications.count_documents({}) == 0


async def test_simulate_empty_folder_explains(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()

    code, output = await run_simulate(tmp_path, "--fixtures-dir", str(empty), "--url", "http://127.0.0.1:9")

    assert code == 1
    assert "no webhook.*.json files in" in output
