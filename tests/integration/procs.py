"""Helpers for tests that run real amibot processes: start the launcher, read pids, check for orphans."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from agent.runtime.bus import RpcClient, RpcTimeout

REPO = Path(__file__).resolve().parents[2]


class LaunchRun:
    """`amibot launch FILE` in a subprocess, its output collected line by line."""

    def __init__(self, launch_file: Path, *overrides: str) -> None:
        args = [sys.executable, "-m", "agent.cli", "launch", str(launch_file)]
        for item in overrides:
            args += ["--set", item]
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s; output:\n{self.text}")

    def pids(self) -> dict[str, int]:
        out = {}
        for line in self.lines:
            if m := re.search(r"started (\S+) \(pid (\d+)\)", line):
                out[m.group(1)] = int(m.group(2))
        return out

    def wait(self, timeout: float = 30.0) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def alive(pid: int) -> bool:
    """True if pid is a live (non-zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    """The pids still alive after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def launched_by(launcher_pid: int) -> list[int]:
    """Live processes a launcher started (their environment names its pid), whoever their parent is now."""
    mark = f"AMIBOT_LAUNCHER_PID={launcher_pid}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            env = (entry / "environ").read_bytes() if entry.name.isdigit() else b""
        except OSError:  # exited meanwhile, or not ours to read
            continue
        if mark in env.split(b"\0") and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        if alive(pid):
            os.kill(pid, 9)


def start_node(module: str, config: Path) -> subprocess.Popen[bytes]:
    """`python -m MODULE --config CONFIG` from the repo root."""
    return subprocess.Popen([sys.executable, "-m", module, "--config", str(config)], cwd=REPO)


def wait_ready(proc: subprocess.Popen[bytes], client: RpcClient, timeout: float = 60.0) -> None:
    """Ping the node until it answers (its setup is done); fail at once if the process died instead."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"node exited with {proc.returncode} during startup"
        try:
            client.call("ping", timeout=0.5, retries=0)
            return
        except RpcTimeout:
            assert time.monotonic() < deadline, f"node not ready within {timeout:.0f} s"
