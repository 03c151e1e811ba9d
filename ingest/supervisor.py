"""`ioc ingest --workers N`: N worker processes on one shared subscription, kept alive.

A dead worker is restarted (same index, so the same MQTT client id and persistent session).
Workers die with their supervisor: PR_SET_PDEATHSIG on Linux, plus a parent-pid watchdog.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from ingest.settings import IngestSettings

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
WORKER_ENTRY = "from ioc.cli import main; main()"


def become_worker(ingest: IngestSettings, index: int, parent: int) -> IngestSettings:
    """Tie this process's life to its supervisor's; return the worker's own settings."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        log.debug("prctl unavailable; relying on the parent watchdog")
    if os.getppid() != parent:  # the supervisor died while this worker was starting
        raise SystemExit(f"worker {index}: supervisor {parent} is gone")

    def watchdog() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        log.warning("supervisor %d is gone; worker %d stopping", parent, index)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()
    # each worker has its own client id (persistent session) and, if enabled, metrics port
    update: dict[str, object] = {"instance": f"{ingest.instance}-w{index}"}
    if ingest.metrics_port:
        update["metrics_port"] = ingest.metrics_port + index
    return ingest.model_copy(update=update)


class Supervisor:
    """Starts, watches and restarts the worker processes."""

    def __init__(self, count: int, ingest: IngestSettings, restart_delay_s: float = 1.0) -> None:
        self.count = count
        self.ingest = ingest
        self.restart_delay_s = restart_delay_s
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.restarts = 0
        self._stop = threading.Event()

    def spawn(self, index: int) -> None:
        """Start worker ``index``."""
        cmd = [
            sys.executable,
            "-c",
            WORKER_ENTRY,
            "ingest",
            "--worker-index",
            str(index),
            "--supervisor-pid",
            str(os.getpid()),
        ]
        self.procs[index] = subprocess.Popen(cmd)
        log.info("worker %d started (pid %d)", index, self.procs[index].pid)

    def run(self) -> None:
        """Run until SIGTERM/SIGINT, then stop the workers."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stop.set())
        for index in range(self.count):
            self.spawn(index)
        try:
            while not self._stop.wait(0.5):
                for index, proc in list(self.procs.items()):
                    code = proc.poll()
                    if code is not None and not self._stop.is_set():
                        log.error(
                            "worker %d (pid %d) exited with %s; restarting", index, proc.pid, code
                        )
                        self.restarts += 1
                        self._stop.wait(self.restart_delay_s)
                        if not self._stop.is_set():
                            self.spawn(index)
        finally:
            self.shutdown()

    def shutdown(self, timeout: float = 15.0) -> None:
        """SIGTERM every worker (they flush and ack), then SIGKILL stragglers."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
