"""Fixtures of the SDK tests: one home and one real server for the session (helpers live in
``sdk_support``)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from sdk_support import Home, make_home

from live_server import STARTED, ServerProcess


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for proc in STARTED:  # whatever a failing test left behind
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return make_home(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def server(home: Home) -> Iterator[ServerProcess]:
    proc = ServerProcess(home.path).start()
    yield proc
    proc.stop()
