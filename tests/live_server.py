"""A real ``thresher serve`` in a subprocess on 127.0.0.1, for the SDK, web and benchmark tests.

Imported by name (``tests/`` is on ``sys.path`` through its ``conftest.py``)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

THRESHER = str(Path(sys.executable).with_name("thresher"))
STARTED: list[subprocess.Popen[bytes]] = []  # killed at session end if a failing test left one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServerProcess:
    """``thresher serve`` on a port of its own; ``kill`` is SIGKILL, ``start`` again reuses the port."""

    def __init__(self, home: Path, port: int | None = None) -> None:
        self.home = home
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home / f"serve-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        cmd = [THRESHER, "serve", "--home", str(self.home), "--port", str(self.port), "--insecure-cookies"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        STARTED.append(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"thresher serve exited ({self.proc.returncode}):\n{self.log.read_text()}")
            try:
                httpx.get(f"{self.url}/api/v1/auth/me", timeout=1.0)  # any answer (401) means it is up
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"thresher serve did not answer within {timeout}s:\n{self.log.read_text()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
