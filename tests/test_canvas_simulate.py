"""`intercom-app simulate canvas ...` against a live server, run as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.conftest import INTERCOM_FIXTURES, TEST_CLIENT_SECRET, TEST_ENCRYPTION_KEY
from tests.test_canvas_inbox import CONTACT_ID, seed_activity, seed_conversation, seed_ticket

CLI = Path(sys.executable).with_name("intercom-app")


async def simulate(server, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """Run `intercom-app simulate canvas ARGS` against `server`; return exit code, stdout, stderr."""
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATA_DIR": str(tmp_path / "cli-data"),
        "INTERCOM_CLIENT_SECRET": TEST_CLIENT_SECRET,
        "TOKEN_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "LOG_FORMAT": "console",
    }
    process = await asyncio.create_subprocess_exec(
        str(CLI), "simulate", "canvas", *args, "--url", server.url,
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    return process.returncode, stdout.decode(), stderr.decode()


async def test_simulate_inbox_prints_canvas(live_server, tmp_path):
    await seed_ticket(live_server.database)
    await seed_conversation(live_server.database)
    await seed_activity(live_server.database, 2)

    code, output, errors = await simulate(live_server, tmp_path, "inbox", "--contact", CONTACT_ID)

    assert code == 0, errors
    lines = output.splitlines()
    assert lines[0] == "# Customer activity"
    assert "  • #38 Checkout button unresponsive — In progress (With engineering) · changed 2 hours ago [ticket:631]" in lines
    assert any("Rated 5/5" in line for line in lines)
    assert any(line.startswith("  • Ticket #38 moved to In progress (0) — 5 minutes ago") for line in lines)
    assert "[Refresh] (id refresh, submit)" in lines


async def test_simulate_inbox_prints_json(live_server, tmp_path):
    code, output, errors = await simulate(live_server, tmp_path, "inbox", "--contact", CONTACT_ID, "--json")

    assert code == 0, errors
    assert json.loads(output)["canvas"]["content"]["components"][0]["text"] == "Customer activity"


async def test_simulate_inbox_sends_file(live_server, tmp_path):
    await seed_ticket(live_server.database, contact_ids=("c-from-cli",))
    fixture = INTERCOM_FIXTURES / "canvas.inbox.initialize.request.json"

    code, output, errors = await simulate(live_server, tmp_path, "inbox", "--contact", "c-from-cli", "--file", str(fixture))

    assert code == 0, errors
    assert "#38 Checkout button unresponsive" in output


async def test_simulate_rejects_invalid_file(live_server, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2]")

    code, _, errors = await simulate(live_server, tmp_path, "inbox", "--contact", CONTACT_ID, "--file", str(broken))

    assert code == 1
    assert "must contain a JSON object, not list" in errors


async def test_simulate_messenger_prints_ticket(live_server, tmp_path):
    await seed_ticket(live_server.database)

    code, live, errors = await simulate(live_server, tmp_path, "messenger", "--contact", CONTACT_ID)
    code_detail, detail, _ = await simulate(live_server, tmp_path, "messenger", "--contact", CONTACT_ID, "--ticket", "631")

    assert (code, code_detail) == (0, 0), errors
    assert "  • #38 Checkout button unresponsive — In progress · updated 2 hours ago [ticket:631]" in live.splitlines()
    assert "  Status: In progress" in detail.splitlines()


async def test_simulate_reports_unreachable_service(live_server, tmp_path):
    await live_server.stop()

    code, _, errors = await simulate(live_server, tmp_path, "inbox", "--contact", CONTACT_ID)

    assert code == 1
    assert f"could not reach {live_server.url}" in errors
