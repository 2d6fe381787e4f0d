"""Starts a process graph in dependency order, supervises it, and shuts it down safely."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from agent.runtime.bus import RpcClient, RpcError, RpcTimeout, Subscriber
from agent.runtime.graph import LaunchSpec, NodeSpec, node_config, start_order
from agent.runtime.messages import Heartbeat, TaskStatus
from agent.runtime.security import CurveClient, graph_client

log = logging.getLogger("amibot.launch")
POLL_S = 0.05
PID_FILE = "launcher.pid"  # in a run dir the launcher created: whose it is (a dead pid: left by a SIGKILL)


@dataclass
class Proc:
    """A node's process and its supervision state."""

    spec: NodeSpec
    config_path: Path
    popen: subprocess.Popen[bytes] | None = None
    state: str = "pending"  # pending, starting, running, silent (being killed), restarting, exited, failed, stopped
    restarts: int = 0
    returncode: int | None = None
    restart_at: float = 0.0
    ready: bool = False
    last_beat: float = 0.0  # monotonic time its last heartbeat arrived
    started_at: float = 0.0  # monotonic time its process was started
    stopping: bool = False  # its last heartbeat said it is shutting down

    def describe_exit(self) -> str:
        rc = self.returncode
        if rc is None:
            return "running"
        if rc < 0:
            return f"killed by {signal.Signals(-rc).name}"
        return f"exit code {rc}"


class Launcher:
    """Runs one LaunchSpec; `run()` returns the exit status (0 clean, 1 a required node failed)."""

    def __init__(self, spec: LaunchSpec, *, out: TextIO | None = None) -> None:
        self.spec = spec
        self.out = out or sys.stdout
        self.run_dir = Path(spec.run_dir)
        self._owns_run_dir = False
        self.procs = {n.name: Proc(n, self.run_dir / f"{n.name}.yaml") for n in spec.nodes}
        self.order = [self.procs[n.name] for n in start_order(spec)]
        self._interrupted = False  # set by the signal handler: a plain flag is all a handler may touch
        self._print_lock = threading.Lock()
        self._pumps: list[threading.Thread] = []
        self._claim_run_dir()  # before any ipc socket: connecting one creates its directory
        self.heartbeats = self._heartbeat_subscriber()
        self.task: TaskStatus | None = None  # the backend's last task_status: the summary reports it

    # ----- setup --------------------------------------------------------------------------
    def _heartbeat_subscriber(self) -> Subscriber:
        endpoints = [n.publish for n in self.spec.nodes]
        curve = None
        if self.spec.security.get("keys_dir"):
            keys = Path(self.spec.security["keys_dir"])
            curve = {
                n.publish: CurveClient(keys / "launcher.key_secret", keys / f"{n.name}.key") for n in self.spec.nodes
            }
        return Subscriber(endpoints, ["task_status"], curve=curve, name="launcher.heartbeats")

    def _write_configs(self) -> None:
        for proc in self.procs.values():
            cfg = node_config(self.spec, proc.spec, source=f"launch {self.spec.name}")
            proc.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def _say(self, line: str, prefix: str = "launch") -> None:
        with self._print_lock:
            self.out.write(f"{prefix:>10} | {line}\n")
            self.out.flush()

    # ----- processes ----------------------------------------------------------------------
    def _start(self, proc: Proc) -> None:
        env = dict(os.environ, AMIBOT_LAUNCHER_PID=str(os.getpid()), PYTHONUNBUFFERED="1", AMIBOT_LAUNCHED="1")
        cmd = [sys.executable, "-m", proc.spec.module, "--config", str(proc.config_path)]
        proc.popen = subprocess.Popen(  # own session: a terminal Ctrl-C reaches only the launcher
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        proc.state, proc.ready, proc.returncode = "starting", False, None
        proc.started_at = time.monotonic()
        pump = threading.Thread(target=self._pump, args=(proc.spec.name, proc.popen), daemon=True)
        pump.start()
        self._pumps.append(pump)
        self._say(f"started {proc.spec.name} (pid {proc.popen.pid}): python -m {proc.spec.module}")

    def _pump(self, name: str, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None
        for raw in iter(popen.stdout.readline, b""):
            self._say(raw.decode(errors="replace").rstrip(), prefix=name)

    def _read_heartbeats(self) -> None:
        """Liveness and readiness of each node from its heartbeats; keeps the last task status."""
        now = time.monotonic()
        for _, msg in self.heartbeats.drain():
            if isinstance(msg, TaskStatus):
                self.task = msg
                continue
            proc = self.procs.get(msg.node) if isinstance(msg, Heartbeat) else None
            if proc is None or proc.popen is None or msg.pid != proc.popen.pid:
                continue
            proc.last_beat, proc.stopping = now, msg.health == "stopping"
            if msg.ready and proc.state == "starting":
                proc.ready, proc.state = True, "running"
                self._say(f"{proc.spec.name} ready")

    def _kill_silent(self) -> None:
        """SIGKILL each running node whose heartbeats stopped (hung, or SIGSTOPped: it cannot handle
        SIGTERM), and each restarted node not ready within ready_timeout_s; reaping then treats it as
        dead. A node that said it is stopping gets stop_timeout_s."""
        now = time.monotonic()
        for proc in self.procs.values():
            if proc.popen is None:
                continue
            late = now - proc.started_at > proc.spec.ready_timeout_s
            if proc.state == "starting" and proc.restarts and late:  # the first start has _wait_ready
                self._say(f"{proc.spec.name} not ready within {proc.spec.ready_timeout_s:.0f}s of its restart")
                proc.state = "silent"
                proc.popen.kill()
            if proc.state != "running":
                continue
            silent = now - proc.last_beat
            if silent > (proc.spec.stop_timeout_s if proc.stopping else proc.spec.heartbeat_timeout_s):
                self._say(f"{proc.spec.name}: no heartbeat for {silent:.1f} s; treating as dead")
                proc.state = "silent"
                proc.popen.kill()

    def _wait_ready(self, proc: Proc) -> bool:
        deadline = time.monotonic() + proc.spec.ready_timeout_s
        while time.monotonic() < deadline and not self._interrupted:
            self._read_heartbeats()
            if proc.ready:  # before reaping: a node may be ready and done already
                return True
            self._kill_silent()
            if self._reap_any():
                return False
            time.sleep(POLL_S)
        if not self._interrupted:
            self._say(f"{proc.spec.name} not ready within {proc.spec.ready_timeout_s:.0f}s")
            proc.state = "failed"
        return False

    def _reap_any(self) -> bool:
        """Update exited processes; True if one that must not die has died."""
        fatal = False
        for proc in self.procs.values():
            if proc.popen is None or proc.state in ("exited", "failed", "stopped", "restarting"):
                continue
            rc = proc.popen.poll()
            if rc is None:
                continue
            proc.returncode = rc
            self._say(f"{proc.spec.name} exited ({proc.describe_exit()})")
            if proc.spec.required:
                proc.state = "exited" if rc == 0 else "failed"
                fatal = True
            elif self._should_restart(proc, rc):
                proc.state = "restarting"
                proc.restart_at = time.monotonic() + proc.spec.restart.backoff_s * (2**proc.restarts)
            else:
                proc.state = "exited" if rc == 0 else "failed"
        return fatal

    def _should_restart(self, proc: Proc, rc: int) -> bool:
        policy = proc.spec.restart
        wanted = policy.policy == "always" or (policy.policy == "on-failure" and rc != 0)
        if wanted and proc.restarts >= policy.max_restarts:
            self._say(f"{proc.spec.name}: gave up after {proc.restarts} restart(s)")
            return False
        return wanted

    def _restart_due(self) -> None:
        now = time.monotonic()
        for proc in self.procs.values():
            if proc.state == "restarting" and now >= proc.restart_at:
                proc.restarts += 1
                self._say(f"restarting {proc.spec.name} ({proc.restarts}/{proc.spec.restart.max_restarts})")
                self._start(proc)

    # ----- main loop ----------------------------------------------------------------------
    def run(self) -> int:
        """Start, supervise, shut down. 0: clean (Ctrl-C or a required node finished), 1: failure."""
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        failed = True
        try:
            self._write_configs()
            failed = not self._start_all() or (not self._required_ended() and self._supervise())
        finally:
            self._shutdown()
            for sig, old in handlers.items():
                signal.signal(sig, old)
        interrupted = self._interrupted
        status = 0 if interrupted or not failed else 1
        self._summary(status, interrupted)
        return status

    def _start_all(self) -> bool:
        """True when the graph came up, or ended cleanly first (interrupted, or a required node finished)."""
        for proc in self.order:
            self._start(proc)
            if not self._wait_ready(proc):
                ended = self._required_ended()
                clean = bool(ended) and proc.state != "failed" and all(p.state == "exited" for p in ended)
                return self._interrupted or clean
        self._say(f"graph '{self.spec.name}' up: {', '.join(p.spec.name for p in self.order)}")
        return True

    def _required_ended(self) -> list[Proc]:
        """Required nodes that exited (state exited: code 0; failed: anything else)."""
        return [p for p in self.procs.values() if p.spec.required and p.state in ("exited", "failed")]

    def _supervise(self) -> bool:
        """Loop until interrupted or a required node exits; True if that exit was a failure."""
        while not self._interrupted:
            self._read_heartbeats()
            self._kill_silent()
            if self._reap_any():
                return any(p.state == "failed" and p.spec.required for p in self.procs.values())
            self._restart_due()
            time.sleep(POLL_S)
        return False

    def _on_signal(self, *_: object) -> None:
        self._interrupted = True

    def _claim_run_dir(self) -> None:
        """Create the run dir, marked with our pid; first remove those of launchers that died (SIGKILL)
        without removing theirs. A directory that exists and is not a dead launcher's is left alone."""
        for marker in [*self.run_dir.parent.glob(f"amibot-*/{PID_FILE}"), self.run_dir / PID_FILE]:
            if marker.exists() and not _launcher_alive(marker):
                shutil.rmtree(marker.parent, ignore_errors=True)
        if self.run_dir.exists():
            return
        self.run_dir.mkdir(parents=True)
        (self.run_dir / PID_FILE).write_text(str(os.getpid()))
        self._owns_run_dir = True

    def _shutdown(self) -> None:
        self._stop_backends()
        backends_last = sorted(reversed(self.order), key=lambda p: p.spec.role == "backend")
        for proc in backends_last:
            self._terminate(proc)
        for pump in self._pumps:
            pump.join(timeout=1.0)
        self.heartbeats.close()
        if self._owns_run_dir:  # only what we created; sockets of SIGKILLed nodes included
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def _stop_backends(self) -> None:
        for proc in self.order:
            if proc.spec.role != "backend" or proc.popen is None or proc.popen.poll() is not None:
                continue
            if not proc.spec.rpc:
                self._say(f"{proc.spec.name}: backend has no rpc endpoint; relying on its deadman")
                continue
            client = RpcClient(
                proc.spec.rpc, curve=graph_client(self.spec.security.get("keys_dir", ""), "launcher", proc.spec.name)
            )
            try:
                self._latch_stop(proc.spec, client)
            except (RpcError, RpcTimeout) as exc:
                self._say(f"{proc.spec.name}: stop command failed ({exc}); relying on its deadman")
            finally:
                client.close()

    def _latch_stop(self, spec: NodeSpec, client: RpcClient) -> None:
        """Latched stop (the backend refuses every later command), then wait up to stop_timeout_s
        until it reports the robot at rest, so the other nodes are stopped only after that."""
        t0 = time.monotonic()
        reply = _stop(client)
        self._say(f"{spec.name}: robot commanded to stop (latched: {reply.get('latched', False)})")
        while not reply.get("at_rest") and time.monotonic() - t0 < spec.stop_timeout_s:
            time.sleep(POLL_S)
            reply = _stop(client)
        if reply.get("at_rest"):
            self._say(f"{spec.name}: robot at rest after {time.monotonic() - t0:.2f} s")
        else:
            self._say(f"{spec.name}: robot not reported at rest within {spec.stop_timeout_s} s; stopping nodes anyway")

    def _terminate(self, proc: Proc) -> None:
        popen = proc.popen
        if popen is None:
            return
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=proc.spec.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._say(f"{proc.spec.name} ignored SIGTERM for {proc.spec.stop_timeout_s}s; SIGKILL")
                popen.kill()
                popen.wait()
            if proc.state not in ("failed", "exited"):
                proc.state = "stopped"
        if proc.returncode is None:
            proc.returncode = popen.returncode

    def _summary(self, status: int, interrupted: bool) -> None:
        why = "interrupted" if interrupted else ("failed" if status else "finished")
        self._say(f"graph '{self.spec.name}' {why}; exit status {status}")
        if self.task is not None:
            self._say(_task_outcome(self.task))
        for proc in self.order:
            restarts = f", {proc.restarts} restart(s)" if proc.restarts else ""
            self._say(f"  {proc.spec.name:<14} {proc.state:<9} {proc.describe_exit()}{restarts}")


def _task_outcome(st: TaskStatus) -> str:
    """One line for the summary: `task fetch: success in 219 steps`."""
    if st.state == "succeeded":
        return f"task {st.task}: success in {st.steps} steps"
    if st.state in ("failed", "aborted"):
        return f"task {st.task}: {st.state} after {st.steps} steps"
    return f"task {st.task}: not finished ({st.state}) after {st.steps} steps"


def _stop(client: RpcClient) -> dict[str, object]:
    """The backend's reply to a latched stop: {"stopped", "latched", "at_rest"} (idempotent, so it is polled)."""
    reply = client.call("stop", {"latch": True}, timeout=0.5, retries=1)
    return reply if isinstance(reply, dict) else {}


def _launcher_alive(marker: Path) -> bool:
    """Whether the launcher whose pid a run dir's marker holds still runs (not us: we have no dir yet)."""
    try:
        pid = int(marker.read_text())
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (ValueError, OSError):  # being written, removed meanwhile, or another user's process
        return True
    return pid != os.getpid()
