"""Webhook ingest benchmark: durable acknowledgements per second and latency against a bare route.

`python -m bench ingest` starts `intercom-app serve` (embedded database, WORKERS_IN_PROCESS=0)
and `python -m bench.bare_app` as separate processes, then drives each with `wrk` over loopback
at 16, 64 and 256 connections. Every request to the service carries a unique, signed
notification, so each 200 is one stored document. The benchmark fails when a run stores fewer
documents than it acknowledged (a lost notification) or more than it sent.

Each level runs the bare app and the service alternately, ROUNDS times, and reports the run
with the median throughput of each, so a slow moment of the machine does not decide the
ratio. On a machine with two or more cores, the server under test gets core 0 to itself, and
wrk and the embedded database share the others.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from pymongo import MongoClient

from oauth.signing import sign_hub

__all__ = ["ServerProcess", "run", "run_wrk", "start_service", "write_bodies"]

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT.parent / "shared" / "fixtures" / "intercom" / "webhook.conversation.user.replied.json"
BENCH_SECRET = "bench_client_secret_not_real"
WEBHOOK_PATH = "/intercom/default/webhooks"

CONNECTION_LEVELS = (16, 64, 256)
DURATION_SECONDS = 8
ROUNDS = 3
SERVER_CORES = {0}
# Read once: pinning this process later narrows what sched_getaffinity reports.
MACHINE_CORES = frozenset(os.sched_getaffinity(0))
WRK_THREADS = 2
# Unique bodies written per level. A level that sends more fails, because it would repeat notifications.
BODIES_PER_LEVEL = 60_000

LUA_SCRIPT = r"""
-- Thread i sends the lines of <prefix>.<i> in order: "<X-Hub-Signature>\t<body>".
local counter = 0
local threads = {}

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  stop_when_exhausted = args[2] == "stop"
  signatures, bodies = {}, {}
  for line in io.lines(args[1] .. "." .. thread_index) do
    local tab = line:find("\t", 1, true)
    signatures[#signatures + 1] = line:sub(1, tab - 1)
    bodies[#bodies + 1] = line:sub(tab + 1)
  end
  position, sent, acked, rejected, wrapped = 0, 0, 0, 0, 0
end

function request()
  position = position + 1
  if position > #bodies then
    position = 1
    wrapped = wrapped + 1
    if stop_when_exhausted then wrk.thread:stop() end
  end
  sent = sent + 1
  local headers = {["Content-Type"] = "application/json", ["X-Hub-Signature"] = signatures[position]}
  return wrk.format("POST", nil, headers, bodies[position])
end

function response(status, headers, body)
  if status == 200 then acked = acked + 1 else rejected = rejected + 1 end
end

function done(summary, latency, requests)
  local totals = {sent = 0, acked = 0, rejected = 0, wrapped = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do totals[name] = totals[name] + thread:get(name) end
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "sent": %d, "acked": %d, "rejected": %d, "wrapped": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d, "socket_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, totals.sent, totals.acked, totals.rejected, totals.wrapped,
    latency:percentile(50), latency:percentile(99), latency.max,
    errors.connect + errors.read + errors.write, errors.timeout))
end
"""


@dataclass
class WrkResult:
    """Totals from the `wrk` output of one run."""

    connections: int
    requests: int
    duration_us: int
    sent: int
    acked: int
    rejected: int
    wrapped: int
    p50_us: int
    p99_us: int
    max_us: int
    socket_errors: int
    timeouts: int
    # CPU milliseconds per request of the server under test and of its database, set by `measured`.
    server_cpu_ms: float = 0.0
    database_cpu_ms: float = 0.0

    @property
    def acked_per_second(self) -> float:
        return self.acked / (self.duration_us / 1e6)


class ServerProcess:
    """One HTTP server in a child process, stopped with SIGTERM on exit."""

    def __init__(self, command: list[str], *, port: int, env: dict[str, str], log_path: Path) -> None:
        self.command = command
        self.port = port
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ServerProcess":
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_until_healthy(timeout=60.0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _wait_until_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command} exited with code {self.process.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.command} did not return 200 from /healthz within {timeout:.0f} s; see {self.log_path}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def other_cores() -> set[int] | None:
    """Return the cores left for wrk and the database, or None when there are too few to pin."""
    others = set(MACHINE_CORES - SERVER_CORES)
    if not SERVER_CORES <= MACHINE_CORES or not others:
        return None
    return others


def pin(server_pid: int, helper_pids: list[int]) -> None:
    """Give the server under test core 0 alone; the helpers and this process share the rest."""
    others = other_cores()
    if others is None:
        return
    os.sched_setaffinity(server_pid, SERVER_CORES)
    for pid in [os.getpid(), *helper_pids]:
        os.sched_setaffinity(pid, others)


def database_pid(work_dir: Path) -> int:
    """Return the pid of the service's embedded database."""
    return int((work_dir / "data" / "mongo" / "nx-27017.pid").read_text())


def start_service(work_dir: Path, *, workers_in_process: bool) -> ServerProcess:
    """Return an `intercom-app serve` process on a free port with its own DATA_DIR."""
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATA_DIR": str(work_dir / "data"),
        "INTERCOM_CLIENT_SECRET": BENCH_SECRET,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "WORKERS_IN_PROCESS": "1" if workers_in_process else "0",
    }
    env.pop("MONGODB_URI", None)
    command = [sys.executable, "-m", "app", "serve"]
    return ServerProcess(command, port=port, env=env, log_path=work_dir / "service.log")


def stored_count(work_dir: Path, *, exact: bool = True) -> int:
    """Count the notifications in the service's embedded database; `exact=False` reads the cheaper estimate."""
    port = int((work_dir / "data" / "mongo" / "nx-27017.port").read_text())
    with MongoClient("127.0.0.1", port, directConnection=True) as client:
        notifications = client["intercom_app"].notifications
        return notifications.count_documents({}) if exact else notifications.estimated_document_count()


def write_bodies(prefix: Path, count: int, threads: int) -> None:
    """Write `count` unique signed notification bodies into `<prefix>.<thread>` files."""
    template = json.loads(TEMPLATE.read_bytes())
    template["id"] = "NOTIFICATION_ID"
    template["created_at"] = int(time.time())
    compact = json.dumps(template, separators=(",", ":"), ensure_ascii=False)

    handles = [open(f"{prefix}.{thread}", "w", encoding="utf-8") for thread in range(threads)]
    try:
        for index in range(count):
            body = compact.replace("NOTIFICATION_ID", f"notif_{uuid.uuid4()}", 1).encode()
            handles[index % threads].write(f"{sign_hub(body, BENCH_SECRET)}\t{body.decode()}\n")
    finally:
        for handle in handles:
            handle.close()


def run_wrk(url: str, prefix: Path, connections: int, *, duration: str, script: Path,
            finished: Callable[[], bool] | None = None) -> WrkResult:
    """Run wrk against `url` with the bodies under `prefix`; return its totals.

    With `finished`, each wrk thread stops once it has sent its bodies, and wrk is interrupted
    (SIGINT, which makes it print its totals) as soon as `finished()` returns True. Without it,
    wrk cycles through the bodies for the whole `duration`.
    """
    command = [
        "wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{duration}", "--timeout", "10s",
        "-s", str(script), url + WEBHOOK_PATH, "--", str(prefix), "stop" if finished else "cycle",
    ]
    others = other_cores()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, others)) if others else None,
    )
    # wrk runs for the whole duration even after its threads stop, so poll for the end instead.
    while finished is not None and process.poll() is None:
        time.sleep(1.0)
        if finished():
            process.send_signal(signal.SIGINT)
            break
    stdout, stderr = process.communicate()

    for line in stdout.splitlines():
        if line.startswith("BENCH "):
            return WrkResult(connections=connections, **json.loads(line[len("BENCH "):]))
    raise RuntimeError(f"wrk printed no totals (exit {process.returncode}): {stderr or stdout}")


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time a process has used, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(run: Callable[[], WrkResult], server_pid: int, database_pid: int | None = None) -> WrkResult:
    """Run wrk through `run` and record the CPU time per request of the server and its database."""
    server_before = cpu_seconds(server_pid)
    database_before = cpu_seconds(database_pid) if database_pid else 0.0
    result = run()
    requests = max(result.requests, 1)
    result.server_cpu_ms = 1000 * (cpu_seconds(server_pid) - server_before) / requests
    if database_pid:
        result.database_cpu_ms = 1000 * (cpu_seconds(database_pid) - database_before) / requests
    return result


def load_average() -> str:
    """Return the 1-minute load average, which shows other work competing for the cores."""
    return Path("/proc/loadavg").read_text().split()[0]


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed; install it with `apt-get install wrk` (make bench does so as root)")


def run() -> str:
    """Run the ingest benchmark and return its Markdown section."""
    require_wrk()
    load_before = load_average()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as temporary:
        work_dir = Path(temporary)
        script = work_dir / "webhooks.lua"
        script.write_text(LUA_SCRIPT)
        bare_port = free_port()
        bare = ServerProcess(
            [sys.executable, "-m", "bench.bare_app", "--port", str(bare_port)],
            port=bare_port, env=dict(os.environ), log_path=work_dir / "bare.log",
        )
        with start_service(work_dir, workers_in_process=False) as service, bare:
            for connections in CONNECTION_LEVELS:
                baselines: list[WrkResult] = []
                durables: list[tuple[WrkResult, int]] = []
                for round_number in range(ROUNDS):
                    prefix = work_dir / f"bodies-{connections}-{round_number}"
                    write_bodies(prefix, BODIES_PER_LEVEL, WRK_THREADS)

                    duration = f"{DURATION_SECONDS}s"
                    pin(bare.process.pid, [])
                    baselines.append(measured(
                        lambda: run_wrk(bare.url, prefix, connections, duration=duration, script=script),
                        bare.process.pid,
                    ))

                    database = database_pid(work_dir)
                    pin(service.process.pid, [database])
                    before = stored_count(work_dir)
                    durable = measured(
                        lambda: run_wrk(service.url, prefix, connections, duration=duration, script=script),
                        service.process.pid, database,
                    )
                    time.sleep(1.0)  # let requests still in flight when wrk stopped finish their inserts
                    stored = stored_count(work_dir) - before
                    _check_durable(durable, stored)
                    durables.append((durable, stored))

                    for path in work_dir.glob(f"{prefix.name}.*"):
                        path.unlink()
                rows.append((connections, _median(baselines), _median([result for result, _ in durables]), durables))
    return _section(rows, load_before)


def _median(results: list[WrkResult]) -> WrkResult:
    return sorted(results, key=lambda result: result.acked_per_second)[len(results) // 2]


def _check_durable(durable: WrkResult, stored: int) -> None:
    if durable.wrapped:
        raise RuntimeError(
            f"{durable.connections} connections sent more than BODIES_PER_LEVEL={BODIES_PER_LEVEL} requests; "
            "raise it so every request carries a new notification"
        )
    if stored < durable.acked:
        raise RuntimeError(f"LOST NOTIFICATIONS: {durable.acked} acknowledged but only {stored} stored")
    if stored > durable.sent:
        raise RuntimeError(f"{stored} notifications stored but only {durable.sent} sent")


def _section(rows: list[tuple[int, WrkResult, WrkResult, list[tuple[WrkResult, int]]]], load_before: str) -> str:
    pinned = other_cores() is not None
    lines = [
        "## Webhook ingest",
        "",
        f"Command: `python -m bench ingest` (wrk {WRK_THREADS} threads, {DURATION_SECONDS} s per run, "
        "loopback). The service is `intercom-app serve` with WORKERS_IN_PROCESS=0 and the embedded "
        "database; the baseline is `python -m bench.bare_app`, the same Quart and Hypercorn stack "
        "answering 200 without verification or storage. Each request is a unique signed "
        f"`conversation.user.replied` notification of {_body_size()} bytes. Latency is measured by wrk "
        f"from request to response. Each level runs the baseline and the service alternately {ROUNDS} "
        "times; the table shows the run with the median throughput of each.",
        "",
        "| Connections | Bare req/s | Bare p50 / p99 ms | Durable acks/s | Durable p50 / p99 ms | Ratio | "
        "Non-200 | Acknowledged | Stored |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for connections, baseline, durable, runs in rows:
        ratio = durable.acked_per_second / baseline.acked_per_second if baseline.acked else 0.0
        acknowledged = sum(result.acked for result, _ in runs)
        stored = sum(count for _, count in runs)
        failed = sum(result.rejected + result.socket_errors + result.timeouts for result, _ in runs)
        lines.append(
            f"| {connections} | {baseline.acked_per_second:,.0f} | {_ms(baseline.p50_us)} / {_ms(baseline.p99_us)} "
            f"| {durable.acked_per_second:,.0f} | {_ms(durable.p50_us)} / {_ms(durable.p99_us)} | {ratio:.0%} "
            f"| {failed} | {acknowledged:,} | {stored:,} |"
        )
    placement = (
        "The server under test ran alone on core 0; wrk and the embedded database shared the other cores."
        if pinned
        else "wrk, the server under test and the embedded database shared the machine's cores."
    )
    lines += [
        "",
        f"Non-200, Acknowledged and Stored add up all {ROUNDS} runs of a level. Stored counts the documents "
        "each run added; it may exceed Acknowledged by the requests still in flight when wrk stopped, "
        f"and the run fails if it is ever smaller. {placement} Load average before the run: {load_before}.",
        "",
        "CPU time per request in the median runs, in milliseconds (from /proc before and after each run):",
        "",
        "| Connections | Bare server | Durable service | Embedded database |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for connections, baseline, durable, _ in rows:
        lines.append(
            f"| {connections} | {baseline.server_cpu_ms:.3f} | {durable.server_cpu_ms:.3f} | {durable.database_cpu_ms:.3f} |"
        )
    lines += ["", _cpu_reading(rows), ""]
    return "\n".join(lines)


def _cpu_reading(rows: list[tuple[int, WrkResult, WrkResult, list[tuple[WrkResult, int]]]]) -> str:
    """Say what the CPU table means for the ratio, with the figures of the middle level."""
    connections, baseline, durable, _ = rows[len(rows) // 2]
    if not baseline.server_cpu_ms or not durable.server_cpu_ms:
        return ""
    baseline_busy = baseline.acked_per_second * baseline.server_cpu_ms / 1000
    durable_busy = durable.acked_per_second * durable.server_cpu_ms / 1000
    return (
        "Each server answers from one event loop, so 1000 divided by its CPU milliseconds per request "
        f"is the most it can answer per second: at {connections} connections about "
        f"{1000 / baseline.server_cpu_ms:,.0f} for the bare server and {1000 / durable.server_cpu_ms:,.0f} for "
        "the service. The difference is the receiver's own work (signature, envelope, document, metrics) "
        "and PyMongo's cost per insert_many. With few connections the batches are small, so fewer "
        "requests share that cost. Throughput times CPU per request gives how busy each server was: "
        f"{baseline_busy:.0%} for the bare server and {durable_busy:.0%} for the service. The CPU reading "
        "spans slightly more than wrk's timed run, so a fully busy server shows a little over 100%. The service "
        "waits whenever every open request is in a batch that the database is still writing."
    )


def _body_size() -> int:
    template = json.loads(TEMPLATE.read_bytes())
    template["id"] = f"notif_{uuid.uuid4()}"
    return len(json.dumps(template, separators=(",", ":"), ensure_ascii=False).encode())


def _ms(microseconds: int) -> str:
    return f"{microseconds / 1000:.1f}"
