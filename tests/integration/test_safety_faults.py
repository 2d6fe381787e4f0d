"""Fault injection with real processes: sim (realtime) + command source + perception + safety.

Every fault is injected while the base cruises at 0.4 m/s and is measured from the sim node's
per-step log: the time from the fault to the first braking step (bound ONSET_S), and the braking
distance from there to rest against v^2 / (2 a) + v T (a: the safety config's base deceleration
limit, T: the control period). The session prints one table row per fault. Perception is the real
node (a tiny trained checkpoint) encoding the sim's camera; safety requires its heartbeats.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from agent.runtime.bus import RpcClient, Subscriber
from agent.runtime.messages import Command
from agent.safety import estop_cli, resume_cli
from tests.integration.procs import LaunchRun, kill_all
from tests.unit.safety.conftest import load

HZ = 40.0  # sim and safety control rate
PERIOD = 1.0 / HZ
DECEL = load().base.max_acc[0]  # m/s^2, the safety config's base deceleration limit
CRUISE = 0.4  # m/s
ONSET_S = 0.15  # fault -> first braking step
DIST_TOL = 0.02  # m on top of v^2 / 2a + v T: two late control periods at 0.4 m/s (a loaded machine)
BASE_TOL, ARM_TOL = 0.005, 0.02  # m/s (rad/s for yaw), rad/s
STOPS: list[dict] = []  # one row per measured fault, printed as a table at the end of the session


def graph(tmp: Path, encoder: Path) -> Path:
    path = tmp / "graph.yaml"
    path.write_text(f"""name: safety_faults
run_dir: {tmp}/run
nodes:
  - name: sim
    module: sim.node
    config: configs/sim/default.yaml
    publishes: [obs, task_status]
    subscribes: [cmd.safe]
    rpc: auto
    role: backend
    required: false
    params: {{mode: realtime, control_hz: {HZ}, physics_hz: 240.0, deadman_s: 0.05, accept_sources: [safety],
              image_size: [16, 16], log_path: {tmp}/sim.jsonl}}
  - name: safety
    module: agent.safety.node
    config: configs/safety/mobile_so101.yaml
    publishes: [cmd.safe, safety_events]
    subscribes: [cmd.proposed, obs, latent]
    rpc: auto
    required: false
    params:
      control_hz: {HZ}
      command_ttl_s: 0.06
      estop_file: {tmp}/estop.json
      event_log: {tmp}/events.jsonl
      watchdog: {{cmd_timeout_s: 0.05, obs_timeout_s: 0.1, peer_timeout_s: 0.05, require_peers: [perception]}}
  - name: source
    module: tests.fixtures.safety_source
    publishes: [cmd.proposed]
    rpc: auto
    required: false
    params: {{rate_hz: {2 * HZ}, wz: 0.0}}  # twice per period: safety's ramp runs ahead of the base
  - name: perception
    module: agent.perception.node
    publishes: [latent]
    subscribes: [obs]
    rpc: auto
    required: false
    after: [sim]
    params: {{heartbeat_hz: 50.0, checkpoint: {encoder}/run/checkpoint.pt, model: {encoder}/model.yaml}}
""")
    return path


class StopTable:
    """Prints the measured stops after the session (visible with and without -s)."""

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not STOPS:
            return
        w = terminalreporter
        w.section("safety stops at 0.4 m/s (sim log)")
        w.write_line(f"onset bound {ONSET_S:.2f} s; braking bound v^2/2a + vT + {DIST_TOL} m, a {DECEL}, T {PERIOD}")
        w.write_line(f"{'fault':<22} {'v [m/s]':>8} {'onset [s]':>10} {'braking [m]':>12} {'bound [m]':>10} ok")
        for s in STOPS:
            numbers = f"{s['v']:>8.3f} {s['onset']:>10.3f} {s['braking']:>12.3f} {s['bound']:>10.3f}"
            w.write_line(f"{s['fault']:<22} {numbers} {s['ok']}")


@pytest.fixture(scope="module", autouse=True)
def stop_table(request: pytest.FixtureRequest) -> None:
    if not request.config.pluginmanager.has_plugin("safety-stop-table"):
        request.config.pluginmanager.register(StopTable(), "safety-stop-table")


@pytest.fixture
def run(tmp_path: Path, run_dir: Path) -> Iterator[LaunchRun]:
    r = LaunchRun(graph(tmp_path, run_dir))
    yield r
    pids = list(r.pids().values())
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            continue
    kill_all(pids)
    r.kill()


class SafeCommands:
    """The base speed of every cmd.safe the safety node publishes, by seq (a thread reads them)."""

    def __init__(self, endpoint: str) -> None:
        self.speeds: dict[int, float] = {}
        self._sub = Subscriber([endpoint], ["cmd.safe"], name="test")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            got = self._sub.recv(timeout=0.05)
            if got is not None and isinstance(got[1], Command):
                self.speeds[got[1].seq] = math.hypot(got[1].base_vel[0], got[1].base_vel[1])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sub.close()


def rows(tmp: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp / "sim.jsonl").read_text().splitlines() if line.strip()]


def speed(row: dict) -> float:
    return math.hypot(row["base_vel"][0], row["base_vel"][1])


def moving(row: dict) -> bool:
    return bool(np.max(np.abs(row["base_vel"])) > BASE_TOL or np.max(np.abs(row["arm_vel"])) > ARM_TOL)


def wait_rows(tmp: Path, ok: Callable[[list[dict]], bool], what: str, timeout: float = 10.0) -> list[dict]:
    """Poll the sim log until ok(rows) holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = rows(tmp) if (tmp / "sim.jsonl").exists() else []
        if got and ok(got):
            return got
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s; last rows {rows(tmp)[-3:]}")


def cruise(run: LaunchRun, tmp: Path) -> None:
    """Wait for the graph and the source's commands to move the robot, then speed up to 0.4 m/s."""
    run.wait_for("graph 'safety_faults' up", timeout=60)
    wait_rows(tmp, lambda r: sum(x["commanded"] and moving(x) for x in r[-20:]) >= 10, "robot never moved")
    client = RpcClient(f"ipc://{tmp}/run/source.rpc")
    try:
        client.call("set", {"vx": CRUISE}, timeout=1.0)
    finally:
        client.close()
    wait_rows(tmp, lambda r: speed(r[-1]) >= CRUISE - BASE_TOL, "never cruised at 0.4 m/s")


def fault_time(tmp: Path) -> float:
    return rows(tmp)[-1]["t"]  # sim time of the last step before the fault (a conservative bound)


def measure_stop(tmp: Path, t_fault: float, fault: str) -> None:
    """Onset and braking distance of the stop after a fault at sim time t_fault; fails on either bound."""
    at_rest = lambda r: r[-1]["t"] > t_fault + 0.3 and not any(moving(x) for x in r[-4:])  # noqa: E731
    log = [r for r in wait_rows(tmp, at_rest, "never came to rest after the fault") if r["t"] >= t_fault]
    v0 = speed(log[0])
    first = next((i for i, r in enumerate(log) if speed(r) < v0 - BASE_TOL), None)
    assert first is not None, f"{fault}: the base never braked"
    v = speed(log[first - 1])  # the speed braking starts from
    pairs = zip(log[first - 1 : -1], log[first:], strict=True)
    braking = sum((speed(a) + speed(b)) / 2 * (b["t"] - a["t"]) for a, b in pairs)  # trapezoid over sim steps
    bound = v * v / (2 * DECEL) + v * PERIOD + DIST_TOL
    onset = log[first]["t"] - t_fault
    row = {"fault": fault, "v": v, "onset": onset, "braking": braking, "bound": bound}
    row["ok"] = onset <= ONSET_S and braking <= bound
    STOPS.append(row)
    assert onset <= ONSET_S, f"{fault}: first braking step {onset:.3f} s after the fault (bound {ONSET_S} s)"
    assert braking <= bound, f"{fault}: braked over {braking:.3f} m from {v:.3f} m/s (bound {bound:.3f} m)"


@pytest.mark.parametrize(
    ("target", "sig"),
    [
        ("source", signal.SIGKILL),
        ("source", signal.SIGSTOP),
        ("perception", signal.SIGKILL),
        ("perception", signal.SIGSTOP),
        ("safety", signal.SIGKILL),
        ("safety", signal.SIGSTOP),
    ],
)
def test_process_fault_stops_the_robot(run: LaunchRun, tmp_path: Path, target: str, sig: signal.Signals) -> None:
    cruise(run, tmp_path)
    t0 = fault_time(tmp_path)
    os.kill(run.pids()[target], sig)
    measure_stop(tmp_path, t0, f"{sig.name} {target}")


@pytest.mark.parametrize("mode", [{"delay_s": 0.15}, {"drop": True}])
def test_delayed_or_dropped_commands_stop_the_robot(run: LaunchRun, tmp_path: Path, mode: dict) -> None:
    cruise(run, tmp_path)
    client = RpcClient(f"ipc://{tmp_path}/run/source.rpc")
    try:
        t0 = fault_time(tmp_path)
        client.call("set", mode, timeout=1.0)
        measure_stop(tmp_path, t0, "late commands" if "delay_s" in mode else "no commands")
    finally:
        client.close()
    events = (tmp_path / "events.jsonl").read_text()
    assert ("stale_command" if "delay_s" in mode else "no_command") in events


def test_estop_reset_keeps_the_robot_at_rest_until_resume(run: LaunchRun, tmp_path: Path) -> None:
    """E-stop, reset: still at rest 5 s later although the source keeps proposing; resume moves it.

    Then the source is killed while the base accelerates (safety's ramp runs ahead of it): the
    stop may not speed the base up beyond what it reaches before the first braking step.
    """
    cruise(run, tmp_path)
    args = ["--file", f"{tmp_path}/estop.json", "--rpc", f"ipc://{tmp_path}/run/safety.rpc"]
    t0 = fault_time(tmp_path)
    assert estop_cli.main([*args, "--reason", "test"]) == 0
    measure_stop(tmp_path, t0, "e-stop")
    t_reset = fault_time(tmp_path)
    assert estop_cli.main([*args, "--reset", "--reason", "test over"]) == 0
    after = wait_rows(tmp_path, lambda r: r[-1]["t"] >= t_reset + 5.0, "sim log stopped", timeout=20)
    moved = [r for r in after if t_reset < r["t"] <= t_reset + 5.0 and moving(r)]
    assert not moved, f"moved {moved[0]['t'] - t_reset:.2f} s after the reset, before any resume: {moved[0]}"
    assert "resume_needed" in (tmp_path / "events.jsonl").read_text()
    sent = SafeCommands(f"ipc://{tmp_path}/run/safety.pub")
    assert resume_cli.main(args) == 0
    got = wait_rows(tmp_path, lambda r: speed(r[-1]) >= 0.15, "did not move after the resume", timeout=5)
    t_kill, v_kill = got[-1]["t"], speed(got[-1])
    os.kill(run.pids()["source"], signal.SIGKILL)
    assert v_kill < CRUISE - 0.1, "the base was not accelerating any more when the source was killed"
    log = [r for r in wait_rows(tmp_path, lambda r: r[-1]["t"] > t_kill + 0.8, "sim log stopped") if r["t"] >= t_kill]
    sent.close()
    applied = [(prev, r, sent.speeds[r["cmd_seq"]]) for prev, r in zip(log, log[1:], strict=False) if r["commanded"]]
    braking = [(p, r, v) for (p, r, v), (_, _, before) in zip(applied[1:], applied, strict=False) if v < before]
    assert braking, "no braking command after the source was killed"
    faster = [(speed(p), v) for p, r, v in braking if v > speed(p) + BASE_TOL]
    assert not faster, f"stop commands faster than the measured base (measured, commanded): {faster}"
    assert not moving(log[-1])
