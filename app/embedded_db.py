"""The embedded MongoDB-wire server (`nx-27017`, SQLite underneath) run as a child process.

Used when MONGODB_URI is unset: by `intercom-app serve` and `worker`, and once per test run.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import structlog
from pymongo import MongoClient
from pymongo.errors import PyMongoError

__all__ = ["EmbeddedMongo", "EmbeddedMongoError"]

log = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1


class EmbeddedMongoError(Exception):
    """Raised when the embedded server cannot start; the message gives the cause and the fix."""


class EmbeddedMongo:
    """Start, wait for and stop one `nx-27017` process with its files under `root`.

    The data, pid and log files all live under `root`, and the port is a free loopback port,
    so instances with different roots never collide. A second instance on the same root is
    rejected while the first one's process is alive.
    """

    def __init__(self, root: Path, *, start_timeout: float = 30.0) -> None:
        self.root = Path(root).resolve()
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.root / "nx-27017.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "nx-27017.log"

    @property
    def port_file(self) -> Path:
        return self.root / "nx-27017.port"

    @property
    def uri(self) -> str:
        if self.port is None:
            raise EmbeddedMongoError("the embedded MongoDB server is not started")
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> str:
        """Start the server, wait until it replies to `hello`, and return its URI."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._check_not_in_use()
        self.port = _free_port()
        command = [
            sys.executable, "-c", "from nx_27017.nx_27017 import main; main()",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--data-dir", str(self.root / "data"),
            "--pid-file", str(self.pid_file),
            "--log-file", str(self.log_file),
        ]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # A session of its own keeps the terminal's Ctrl-C away from the child: the service
            # stops it after its own shutdown. The death signal covers a parent killed outright.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._wait_until_ready()
        self.port_file.write_text(f"{self.port}\n")
        log.info("embedded_mongodb.started", port=self.port, pid=self._process.pid, root=str(self.root))
        return self.uri

    def running_pid(self) -> int | None:
        """Return the pid of a live server on this root, from its pid file, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _process_alive(pid) else None

    def attach(self) -> str | None:
        """Return the URI of a server another process started on this root, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
            port = int(self.port_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if not _process_alive(pid) or not _answers_hello(port):
            return None
        self.port = port
        return self.uri

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after `timeout` seconds. Safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.pid_file.unlink(missing_ok=True)
        self.port_file.unlink(missing_ok=True)
        log.info("embedded_mongodb.stopped", pid=process.pid, root=str(self.root))

    def __enter__(self) -> "EmbeddedMongo":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _check_not_in_use(self) -> None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return
        if _process_alive(pid):
            raise EmbeddedMongoError(
                f"the embedded MongoDB data in {self.root} is in use by process {pid}; "
                "stop that service or set DATA_DIR to another folder"
            )
        self.pid_file.unlink(missing_ok=True)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedMongoError(
                    f"the embedded MongoDB server exited with code {self._process.returncode}; "
                    f"see {self.log_file}"
                )
            if _answers_hello(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedMongoError(
            f"the embedded MongoDB server did not respond within {self.start_timeout:.0f} s; "
            f"see {self.log_file}"
        )


def _answers_hello(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            pass
    except OSError:
        return False
    client = MongoClient("127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=500)
    try:
        client.admin.command("hello")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """Return whether `pid` has exited but was not reaped yet, like a killed server that this process started."""
    try:
        # The state follows the command name, which is in parentheses and may contain spaces.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        # No /proc (not Linux), or the process has just exited.
        return False
    return state == "Z"


def _die_with_parent() -> None:
    # Linux only: ask the kernel to send SIGTERM to the child when the parent dies.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
