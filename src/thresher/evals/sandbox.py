"""Run untrusted Python (HumanEval-style tests) in a subprocess with limits and no network.

Layers, each enough on its own for what it guards:

- **time**: a wall-clock timeout after which the whole process group is SIGKILLed, and
  ``RLIMIT_CPU`` as a backstop;
- **memory**: ``RLIMIT_AS`` (an allocation past it raises ``MemoryError``), ``RLIMIT_FSIZE``
  for files written, ``RLIMIT_CORE`` 0;
- **network**: a fresh network namespace (``unshare -n``: no interface but a downed loopback)
  when the machine allows it (root, or user namespaces), and always an audit hook
  (``sys.addaudithook``, which cannot be removed once installed) that refuses socket
  ``connect``/``bind``/``sendto``/``getaddrinfo``;
- **files**: the code runs in a fresh temporary folder; the audit hook refuses ``open`` (and
  ``os.listdir``/``scandir``, removals and renames) outside it, except reading Python's own
  installation, and refuses starting processes and loading libraries through ``ctypes``.

This is not a security boundary for hostile code (there is no seccomp filter): it is what keeps
a benchmark item from touching the machine by mistake or by a model's bad idea.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Runs in the child before the untrusted code: installs the hook, then executes main.py.
_BOOT = r"""
import os, sys
ROOT = os.path.realpath(os.getcwd())
READ_OK = tuple(sorted({os.path.realpath(p) + os.sep for p in (
    sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
    os.path.dirname(os.__file__),
)}))
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
NET = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
       "socket.gethostbyname", "socket.gethostbyaddr"}
NO = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
      "os.kill", "os.killpg", "ctypes.dlopen", "ctypes.dlsym", "os.chdir", "os.chroot", "pty.spawn"}
PATHS = {"os.listdir", "os.scandir", "os.remove", "os.rmdir", "os.rename", "shutil.rmtree", "os.chmod",
         "os.chown", "os.link", "os.symlink", "os.truncate", "os.mkdir"}
LIST = {"os.listdir", "os.scandir"}

def inside(p):
    r = os.path.realpath(p)
    return r == ROOT or r.startswith(ROOT + os.sep)

def hook(event, args):
    if event == "open":
        path, mode, flags = args
        if path is None or isinstance(path, int):
            return
        path = os.fsdecode(path)
        if inside(path):
            return
        writing = any(c in (mode or "") for c in "wax+") or (isinstance(flags, int) and flags & WRITE_FLAGS)
        if not writing and (os.path.realpath(path) + os.sep).startswith(READ_OK):
            return
        raise PermissionError(f"sandbox: no access to {path}")
    if event in NET:
        raise PermissionError(f"sandbox: no network ({event})")
    if event in NO:
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event in PATHS and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        if inside(path):
            return
        if event in LIST and (os.path.realpath(path) + os.sep).startswith(READ_OK):
            return  # the import system lists the folders of Python's own installation
        raise PermissionError(f"sandbox: {event} outside the sandbox")

code = open("main.py", encoding="utf-8").read()
sys.addaudithook(hook)
sys.argv = ["main.py"]
exec(compile(code, "main.py", "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class SandboxResult:
    returncode: int | None
    timed_out: bool
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@cache
def network_namespace_available() -> bool:
    """Whether ``unshare -n`` works here (as root, or with user namespaces allowed)."""
    exe = shutil.which("unshare")
    if exe is None:
        return False
    try:
        return subprocess.run([exe, "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _command() -> list[str]:
    python = [sys.executable, "-I", "-B", "-c", _BOOT]
    return ["unshare", "-n", *python] if network_namespace_available() else python


def _limits(timeout_s: float, memory_mb: int) -> None:  # pragma: no cover - runs in the child
    cpu = int(timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _prepare(code: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="thresher-sandbox-"))
    (folder / "main.py").write_text(code, encoding="utf-8")
    return folder


_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


def run_sandboxed(code: str, *, timeout_s: float = 10.0, memory_mb: int = 512) -> SandboxResult:
    """Run ``code`` as a script in a fresh folder; exit status 0 means it passed."""
    folder = _prepare(code)
    try:
        proc = subprocess.Popen(
            _command(),
            cwd=folder,
            env=_ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=lambda: _limits(timeout_s, memory_mb),
        )
        try:
            out, err = proc.communicate(timeout=timeout_s)
            return SandboxResult(proc.returncode, False, _clip(out), _clip(err))
        except subprocess.TimeoutExpired:
            _kill(proc.pid)
            out, err = proc.communicate()
            return SandboxResult(None, True, _clip(out), _clip(err))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def arun_sandboxed(code: str, *, timeout_s: float = 10.0, memory_mb: int = 512) -> SandboxResult:
    """``run_sandboxed`` without blocking the event loop."""
    folder = _prepare(code)
    try:
        proc = await asyncio.create_subprocess_exec(
            *_command(),
            cwd=folder,
            env=_ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=lambda: _limits(timeout_s, memory_mb),
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
            return SandboxResult(proc.returncode, False, _clip(out), _clip(err))
        except TimeoutError:
            _kill(proc.pid)
            out, err = await proc.communicate()
            return SandboxResult(None, True, _clip(out), _clip(err))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # the session leader's group: unshare and python together


def _clip(data: bytes, limit: int = 4000) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[: limit // 2] + "\n…\n" + text[-limit // 2 :]
