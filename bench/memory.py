"""Memory benchmark: resident memory of `intercom-app serve` after 100,000 stored notifications.

`python -m bench memory` starts the service (embedded database, WORKERS_IN_PROCESS=0) in a
child process, sends 100,000 unique signed notifications with `wrk` over loopback, and reads
the resident set size of the service and of the embedded database from /proc.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.ingest import (
    LUA_SCRIPT,
    WRK_THREADS,
    load_average,
    require_wrk,
    run_wrk,
    start_service,
    stored_count,
    write_bodies,
)

__all__ = ["run"]

NOTIFICATIONS = 100_000
CONNECTIONS = 16
# wrk stops when every notification is stored; this caps the run on a machine too slow to store them all.
MAX_SECONDS = 240


def run() -> str:
    """Run the memory benchmark and return its Markdown section."""
    require_wrk()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as temporary:
        work_dir = Path(temporary)
        script = work_dir / "webhooks.lua"
        script.write_text(LUA_SCRIPT)
        prefix = work_dir / "bodies"
        write_bodies(prefix, NOTIFICATIONS, WRK_THREADS)

        with start_service(work_dir, workers_in_process=False) as service:
            database_pid = int((work_dir / "data" / "mongo" / "nx-27017.pid").read_text())
            idle = _memory_kib(service.process.pid)

            started = time.monotonic()
            result = run_wrk(
                service.url, prefix, CONNECTIONS, duration=f"{MAX_SECONDS}s", script=script,
                finished=lambda: stored_count(work_dir, exact=False) >= NOTIFICATIONS,
            )
            elapsed = time.monotonic() - started
            time.sleep(1.0)  # let requests still in flight when wrk stopped finish their inserts

            stored = stored_count(work_dir)
            if stored < result.acked:
                raise RuntimeError(f"LOST NOTIFICATIONS: {result.acked} acknowledged but only {stored} stored")
            # A slow or busy machine may not store them all within MAX_SECONDS; the section then
            # reports the number reached instead of failing, because nothing was lost.
            loaded = _memory_kib(service.process.pid)
            database = _memory_kib(database_pid)
            data_bytes = sum(path.stat().st_size for path in (work_dir / "data" / "mongo").rglob("*") if path.is_file())

    return _section(idle, loaded, database, data_bytes, stored, elapsed, load_before)


def _memory_kib(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM (peak) of `pid` in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def _section(idle: dict, loaded: dict, database: dict, data_bytes: int, stored: int, elapsed: float,
             load_before: str) -> str:
    return "\n".join([
        f"## Memory after {NOTIFICATIONS:,} notifications",
        "",
        "Command: `python -m bench memory`. The service is `intercom-app serve` with "
        f"WORKERS_IN_PROCESS=0 and the embedded database; wrk sends {NOTIFICATIONS:,} unique signed "
        f"`conversation.user.replied` notifications over {CONNECTIONS} connections. Memory is the "
        "resident set size from /proc/<pid>/status.",
        "",
        "| Process | RSS at start | RSS after | Peak RSS |",
        "| --- | ---: | ---: | ---: |",
        f"| `intercom-app serve` | {_mib(idle['VmRSS'])} | {_mib(loaded['VmRSS'])} | {_mib(loaded['VmHWM'])} |",
        f"| embedded database (nx-27017) | | {_mib(database['VmRSS'])} | {_mib(database['VmHWM'])} |",
        "",
        f"{stored:,} of {NOTIFICATIONS:,} notifications stored in {elapsed:.0f} s "
        f"(the run stops after {MAX_SECONDS} s); the embedded database files take {data_bytes / 2**20:,.0f} MiB. "
        f"Load average before the run: {load_before}.",
        "",
    ])


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"
