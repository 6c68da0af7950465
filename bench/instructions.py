"""Instructions per webhook request, counted by valgrind's callgrind: `python -m bench instructions`.

Each case runs in its own process under callgrind. The process builds the app, sends signed
notifications straight to its ASGI interface (no HTTP server, no socket), and counts only
while those requests run, with garbage collection off. Instruction counts do not depend on
what else the machine does, so they show what a code change costs more precisely than the
ingest throughput, which varies by several percent between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.ingest import BENCH_SECRET, REPO_ROOT, TEMPLATE, WEBHOOK_PATH
from oauth.signing import HUB_SIGNATURE_HEADER, sign_hub

__all__ = ["run"]

REQUESTS = 2000
WARM_UP_REQUESTS = 300


@dataclass(frozen=True)
class Case:
    """One measured configuration: its name, its label in the table and the requests in flight."""

    name: str
    description: str
    in_flight: int


CASES = (
    Case("bare", "Bare route (`bench.bare_app`)", 32),
    Case("receiver", "Receiver, insert answered in memory", 32),
    Case("stored-8", "Receiver with the insert", 8),
    Case("stored-32", "Receiver with the insert", 32),
)


def run() -> str:
    """Count every case and return the Markdown section."""
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise RuntimeError(
                f"{tool} is not installed; install it with `apt-get install valgrind` (make bench does so as root)"
            )

    counts = {case.name: _count(case) for case in CASES}
    bare = counts["bare"]
    rows = "\n".join(
        f"| {case.description} | {case.in_flight} | {counts[case.name]:,} | {counts[case.name] - bare:+,} |"
        for case in CASES
    )
    return (
        "## Receiver instructions\n\n"
        f"Command: `python -m bench instructions` (valgrind's callgrind, {REQUESTS} signed "
        "`conversation.user.replied` notifications per case after "
        f"{WARM_UP_REQUESTS} unmeasured ones, sent to the app's ASGI interface in waves of the "
        "given size, garbage collection off while counting). The service runs on its embedded "
        "database; in the second case the inbox answers `stored` without writing. Hypercorn's HTTP "
        "parsing and the sockets are not counted: they cost the same for both servers.\n\n"
        "| Case | Requests in flight | Instructions per request | Compared with the bare route |\n"
        "| --- | ---: | ---: | ---: |\n"
        f"{rows}\n\n"
        "The difference between the first two rows is the receiver's own work: the HMAC-SHA1 "
        "signature, the envelope parse, the document, metrics and the response. The last two rows "
        "add PyMongo's `insert_many`, whose fixed cost per call is shared by the requests in a batch.\n"
    )


def _count(case: Case) -> int:
    """Run one case under callgrind and return its instructions per request."""
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as temporary:
        output = Path(temporary) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={output}",
            sys.executable, "-m", "bench.instructions", "--case", case.name, "--work-dir", temporary,
        ]
        completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200)
        if completed.returncode != 0:
            raise RuntimeError(f"case {case.name} exited with {completed.returncode}: {completed.stderr[-2000:]}")
        return _total_instructions(output) // REQUESTS


def _total_instructions(output: Path) -> int:
    for line in output.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"{output} has no instruction total; was callgrind's instrumentation switched on?")


# The process under callgrind.


def _bodies(count: int) -> list[tuple[bytes, str]]:
    template = json.loads(TEMPLATE.read_bytes())
    template["created_at"] = int(time.time())
    bodies = []
    for _ in range(count):
        template["id"] = f"notif_{uuid.uuid4()}"
        body = json.dumps(template, separators=(",", ":")).encode()
        bodies.append((body, sign_hub(body, BENCH_SECRET)))
    return bodies


async def _post(app: Any, body: bytes, signature: str) -> int:
    """Send one webhook through `app`'s ASGI interface and return the response status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": WEBHOOK_PATH, "raw_path": WEBHOOK_PATH.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "extensions": {},
        "headers": [
            (b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()), (HUB_SIGNATURE_HEADER.lower().encode(), signature.encode()),
        ],
    }
    delivered = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _send_all(app: Any, bodies: list[tuple[bytes, str]], in_flight: int) -> None:
    for start in range(0, len(bodies), in_flight):
        wave = bodies[start:start + in_flight]
        statuses = await asyncio.gather(*(_post(app, body, signature) for body, signature in wave))
        if any(status != 200 for status in statuses):
            raise RuntimeError(f"expected only 200 responses, got {sorted(set(statuses))}")


def _callgrind(switch: str) -> None:
    subprocess.run(["callgrind_control", "--instr=" + switch, str(os.getpid())], check=True, capture_output=True)


async def _measure(app: Any, in_flight: int) -> None:
    bodies = _bodies(WARM_UP_REQUESTS + REQUESTS)
    await _send_all(app, bodies[:WARM_UP_REQUESTS], in_flight)

    gc.collect()
    gc.disable()
    _callgrind("on")
    await _send_all(app, bodies[WARM_UP_REQUESTS:], in_flight)
    _callgrind("off")
    gc.enable()


async def _run_case(case: Case, work_dir: Path) -> None:
    if case.name == "bare":
        from bench.bare_app import create_bare_app

        await _measure(create_bare_app(), case.in_flight)
        return

    from app.embedded_db import EmbeddedMongo
    from app.factory import create_app
    from app.settings import load_settings
    from webhooks.inbox import StoreOutcome

    with EmbeddedMongo(work_dir / "mongo") as embedded:
        settings = load_settings(
            APP_ENV="development", DATA_DIR=work_dir / "data", MONGODB_URI=embedded.uri,
            INTERCOM_CLIENT_SECRET=BENCH_SECRET, LOG_LEVEL="WARNING", WORKERS_IN_PROCESS=False,
        )
        app = create_app(settings, mongo_uri=embedded.uri)
        async with app.test_app():
            if case.name == "receiver":
                inbox = app.extensions["webhook_receiver"].inbox_for(app.extensions["intercom"])
                inbox.store = _answer_stored(StoreOutcome.STORED)
            await _measure(app, case.in_flight)


def _answer_stored(outcome: Any) -> Callable[..., Awaitable[Any]]:
    async def store(document: dict[str, Any], **options: Any) -> Any:
        return outcome

    return store


def main() -> None:
    parser = argparse.ArgumentParser(description="Run one instruction-count case; `run()` starts it under callgrind.")
    parser.add_argument("--case", required=True, choices=[case.name for case in CASES])
    parser.add_argument("--work-dir", required=True, type=Path)
    arguments = parser.parse_args()

    case = next(case for case in CASES if case.name == arguments.case)
    import uvloop

    uvloop.run(_run_case(case, arguments.work_dir))


if __name__ == "__main__":
    main()
