"""Run every benchmark and write docs/benchmarks.md (`make bench`), or print some (`python -m bench NAME ...`).

Each benchmark is a module `bench/<name>.py` with `run() -> str` that returns a Markdown
section (heading, command, table) and raises on a failed run (a lost notification, say).
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

BENCHMARKS = ("ingest", "instructions", "worker", "canvas", "memory")
OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine_summary() -> str:
    memory_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"{memory_kib / 1024 / 1024:.0f} GiB memory, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main(names: list[str]) -> int:
    selected = names or list(BENCHMARKS)
    unknown = [name for name in selected if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2

    sections: list[str] = []
    failed = False
    for name in selected:
        started = time.monotonic()
        print(f"bench: running {name}", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            sections.append(module.run())
        except Exception as error:  # report every benchmark, then fail the run
            failed = True
            sections.append(f"## {name}\n\nFAILED: {type(error).__name__}: {error}\n")
        print(f"bench: {name} took {time.monotonic() - started:.0f} s", flush=True)

    header = (
        "# Benchmarks\n\n"
        f"Produced by `{'python -m bench ' + ' '.join(names) if names else 'make bench'}` on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.\n\n"
        f"Machine: {machine_summary()}.\n\n"
        "Every figure below comes from that one run; rerun `make bench` to refresh them.\n\n"
        "Targets: durable webhook ingest at 80% or more of the bare handler's throughput, p99 "
        "acknowledgement under 100 ms at 64 connections, and zero lost notifications (each run "
        "counts stored documents against acknowledged requests and fails on any difference). "
        "Compare the Ratio and p99 columns below with the first two. The service, the embedded "
        "database and the load generator run on this one machine; the ingest section says how they "
        "shared its cores.\n\n"
    )
    document = header + "\n".join(sections)
    if names:
        # A partial run only prints its sections, so docs/benchmarks.md keeps the figures of one full run.
        print(document)
    else:
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        OUTPUT.write_text(document)
        print(f"bench: wrote {OUTPUT}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
