"""The hardware backend as a real process on the emulated STS3215 bus (real SDK, real pty, real ZeroMQ)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import zmq

from agent.runtime.bus import RpcClient, Subscriber, context
from agent.runtime.codec import encode
from agent.runtime.messages import Command, Observation
from agent.safety.scene_sync import SceneFollower
from hardware.config import resolve
from hardware.feetech import table as T
from hardware.feetech.calibration import load_calibration
from hardware.feetech.emulator import EmulatedBus, EmulatedServo, servos_from_args
from tests.integration.procs import REPO, wait_ready

FOLLOWER = resolve("configs/hardware/calibration/so101_follower.yaml")
WHEELS = (7, 8, 9)
ARM = (1, 2, 3, 4, 5, 6)
CONTROL_HZ = 20.0
DEADMAN_S = 0.25


class RobotProc:
    """An emulated bus in this process and a hardware node process driving it; commands come from our PUB."""

    def __init__(self, tmp: Path, log: Path | None = None, **params: object) -> None:
        import subprocess

        self.emu = EmulatedBus(servos_from_args(str(FOLLOWER), list(WHEELS), 0.0)).start()
        self.feed = f"ipc://{tmp}/feed.sock"
        cameras = {"head": {"source": "test_pattern"}, "wrist": {"source": "test_pattern"}}
        cfg = {"publish": f"ipc://{tmp}/robot.pub", "rpc": f"ipc://{tmp}/robot.rpc", "inputs": {"cmd.safe": self.feed},
               "bus": {"port": self.emu.path, "latency_ms": 40.0}, "accept_sources": ["test"], "control_hz": CONTROL_HZ,
               "deadman_s": DEADMAN_S, "cameras": cameras, **params}  # fmt: skip
        self.pub = context().socket(zmq.PUB)
        self.pub.linger = 0
        self.pub.bind(self.feed)
        base = REPO / "configs/hardware/mobile_so101.yaml"
        self.proc = subprocess.Popen([sys.executable, "-m", "hardware.node", "--config", str(base),
                                      *sum((["--set", f"{k}={json.dumps(v)}"] for k, v in cfg.items()), [])],
                                     cwd=REPO, stderr=log.open("w") if log else None)  # fmt: skip
        self.rpc = RpcClient(f"ipc://{tmp}/robot.rpc")
        self.obs = Subscriber([f"ipc://{tmp}/robot.pub"], ["obs"], latest=["obs"])
        self.seq = 0
        try:
            wait_ready(self.proc, self.rpc, timeout=30)
        except BaseException:
            self.close(check=False)
            raise

    def send(self, msg: Command | list[bytes], validate: bool = True) -> None:
        frames = msg if isinstance(msg, list) else encode("cmd.safe", msg, validate=validate)
        self.pub.send_multipart(frames)

    def command(self, vx: float = 0.0, arm: list[float] | None = None, gripper: float = 1.0, **kw: object) -> Command:
        self.seq += 1
        args: dict[str, object] = dict(base_vel=np.array([vx, 0.0, 0.0]), arm=np.array(arm or [0.0] * 5),
                                       gripper=gripper, valid_until=time.monotonic() + 0.3, source="test",
                                       seq=self.seq)  # fmt: skip
        args.update(kw)
        return Command(**args)  # type: ignore[arg-type]

    def newest_obs(self, timeout: float = 5.0) -> Observation:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.obs.sock.poll(100)
            got = [m for t, m in self.obs.drain() if t == "obs"]
            if got:
                return got[-1]  # type: ignore[return-value]
        raise AssertionError("no observation")

    def register(self, servo_id: int, reg: tuple[int, int]) -> int:
        with self.emu.lock:
            return self.emu.servos[servo_id].get(reg)

    def wheel_goals(self) -> list[int]:
        return [T.decode_signed(self.register(i, T.GOAL_SPEED), 15) for i in WHEELS]

    def wheel_speeds(self) -> list[float]:
        with self.emu.lock:
            return [self.emu.servos[i].vel for i in WHEELS]

    def stream(self, seconds: float, make: Callable[[], Command | list[bytes]], validate: bool = True) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.send(make(), validate)
            time.sleep(0.05)

    def stream_until(self, cond: Callable[[], bool], make: Callable[[], Command], timeout: float = 10.0) -> None:
        """Send a command every 50 ms until cond() holds; fail after timeout (a deadline, not a bound)."""
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, "condition not reached while streaming commands"
            self.send(make())
            time.sleep(0.05)

    def ticks(self, kind: str = "commanded_ticks") -> int:
        return self.rpc.call("stats")["counters"].get(kind, 0)

    def close(self, check: bool = True) -> int | None:
        self.rpc.close()
        self.obs.close()
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=10)
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self.pub.close()
        if check:
            assert rc == 0
        return rc


@pytest.fixture
def robot(tmp_path: Path) -> Iterator[RobotProc]:
    proc = RobotProc(tmp_path)
    try:
        yield proc
    finally:
        proc.close(check=False)
        proc.emu.stop()


def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_observations_features_scene_and_reset(robot: RobotProc) -> None:
    obs = robot.newest_obs()
    assert obs.head.shape == (64, 64, 3) and obs.wrist is not None and obs.wrist.shape == (64, 64, 3)
    assert obs.arm.shape == (5,) and np.allclose(obs.arm, 0.0, atol=0.01) and obs.episode == 1
    features = robot.rpc.call("features")
    assert features["observation"]["arm"]["names"][0] == "shoulder_pan" and features["control_hz"] == 20.0
    follower = SceneFollower(RpcClient(robot.rpc.endpoint))
    try:
        with pytest.raises(KeyError):  # safety following this backend's scene fails closed
            follower.query(time.monotonic())
    finally:
        follower.close()
    assert robot.rpc.call("reset", {"task": "fetch", "seed": 3})["episode"] == 2
    until(lambda: robot.newest_obs().episode == 2)
    assert all(robot.register(i, T.TORQUE_ENABLE) == 1 for i in ARM + WHEELS)


def test_arm_follows_targets_and_odometry_integrates_wheel_speeds(robot: RobotProc) -> None:
    target = [0.5, -0.4, 0.6, 0.3, -1.0]
    seen: list[Observation] = []

    def there() -> bool:
        seen.append(obs := robot.newest_obs())
        arrived = np.allclose(obs.arm, target, atol=0.01) and obs.gripper == pytest.approx(0.25, abs=0.01)
        return arrived and obs.base_vel[0] == pytest.approx(0.2, abs=0.01) and obs.base_pose[0] > 0.15

    t0 = time.monotonic()
    robot.stream_until(there, lambda: robot.command(vx=0.2, arm=target, gripper=0.25))
    obs = seen[-1]
    assert abs(obs.base_vel[1]) < 0.01 and abs(obs.base_pose[1]) < 0.02, obs
    assert obs.base_pose[0] <= 0.2 * (time.monotonic() - t0) + 0.01, obs.base_pose  # never faster than 0.2 m/s
    cal = load_calibration(FOLLOWER)
    assert robot.register(1, T.GOAL_POSITION) == cal.joints[0].to_ticks(0.5)
    assert robot.register(1, T.MODE) == T.MODE_POSITION and robot.register(7, T.MODE) == T.MODE_WHEEL


def test_a_command_beyond_the_wheels_keeps_its_direction(robot: RobotProc) -> None:
    """0.4 m/s sideways needs more than the wheel servos' top speed: all wheels scale down together."""
    seen: list[Observation] = []

    def sideways() -> bool:
        seen.append(robot.newest_obs())
        return seen[-1].base_vel[1] > 0.1

    robot.stream_until(sideways, lambda: robot.command(base_vel=np.array([0.0, 0.4, 0.0])))
    obs = seen[-1]
    assert obs.base_vel[1] <= 0.4 + 1e-3, obs.base_vel  # slower than asked, but sideways
    assert abs(obs.base_vel[0]) < 0.01 and abs(obs.base_vel[2]) < 0.02, obs.base_vel  # no drift, no turn
    assert robot.rpc.call("stats")["counters"].get("wheel_saturated", 0) > 0


def test_deadman_stops_the_wheels_and_the_arm_holds(robot: RobotProc) -> None:
    make = partial(robot.command, vx=0.3, arm=[0.4, 0, 0, 0, 0])
    robot.stream_until(lambda: min(abs(g) for g in robot.wheel_goals()) > 500, make)
    robot.send(make(valid_until=time.monotonic() + 5.0))  # the last command: only the deadman ends it
    before = robot.ticks()
    until(lambda: robot.wheel_goals() == [0, 0, 0], timeout=5.0)
    # Counted in control ticks, not seconds: after its last command the node drives for at most
    # deadman_s worth of ticks (a loaded machine only runs fewer), plus one, plus one more if the
    # stats request overtook that command.
    assert robot.ticks() - before <= DEADMAN_S * CONTROL_HZ + 2, robot.rpc.call("stats")["counters"]
    until(lambda: max(abs(v) for v in robot.wheel_speeds()) < 1.0, timeout=2.0)
    hold = robot.register(1, T.GOAL_POSITION)
    assert abs(hold - load_calibration(FOLLOWER).joints[0].to_ticks(0.4)) <= 3  # holds where the arm is
    time.sleep(0.3)
    assert robot.register(1, T.GOAL_POSITION) == hold and robot.register(1, T.TORQUE_ENABLE) == 1
    assert robot.rpc.call("stats")["counters"]["deadman_stops"] >= 1


def test_bad_commands_are_rejected_counted_and_move_nothing(robot: RobotProc) -> None:
    goals = [robot.register(i, T.GOAL_POSITION) for i in ARM]
    robot.send(robot.command(vx=float("nan")), validate=False)  # codec: nonfinite
    robot.send(robot.command(arm=[2.5, 0, 0, 0, 0]))  # beyond shoulder_pan's 1.92 rad
    robot.send(robot.command(vx=1.0))  # beyond the base's 0.4 m/s
    robot.send(robot.command(arm=[0.1] * 7))  # wrong number of joints
    robot.send(robot.command(vx=0.1, source="teleop"))  # not from the allowed source
    robot.send(robot.command(vx=0.1, valid_until=time.monotonic() - 1.0))  # expired
    robot.send(robot.command(vx=0.1, episode=9))  # checked against another episode's state
    frames = encode("cmd.safe", robot.command())
    robot.send([frames[0], b"\x00garbage", *frames[2:]])  # codec: bad header
    until(lambda: sum(robot.rpc.call("stats")["counters"].get(f"rejected_{r}", 0)
                      for r in ("range", "shape", "source", "expired", "episode")) >= 6)  # fmt: skip
    stats = robot.rpc.call("stats")
    c = stats["counters"]
    assert stats["rejected"].get("nonfinite") == 1 and stats["rejected"].get("bad_header") == 1
    assert (c.get("rejected_range"), c.get("rejected_shape"), c.get("rejected_source"), c.get("rejected_expired"),
            c.get("rejected_episode")) == (2, 1, 1, 1, 1)  # fmt: skip
    time.sleep(0.3)
    assert robot.wheel_goals() == [0, 0, 0] and max(abs(v) for v in robot.wheel_speeds()) < 1.0
    assert [robot.register(i, T.GOAL_POSITION) for i in ARM] == goals
    assert "commanded_ticks" not in robot.rpc.call("stats")["counters"]


def test_stop_rpc_and_a_silent_servo(robot: RobotProc) -> None:
    robot.stream(0.5, lambda: robot.command(vx=0.2))
    reply = robot.rpc.call("stop")
    assert reply["stopped"] is True and reply["latched"] is False
    assert robot.wheel_goals() == [0, 0, 0]
    robot.stream_until(lambda: robot.wheel_goals() != [0, 0, 0], lambda: robot.command(vx=0.2))  # driving again
    robot.emu.servos[3].faults.silent = True
    robot.stream(0.5, lambda: robot.command(vx=0.2))  # commands keep coming: the wheels must stop anyway
    until(lambda: robot.rpc.call("stats")["counters"].get("bus_error.no_reply", 0) >= 1)
    robot.obs.drain()  # what was published before the fault
    robot.stream(0.5, lambda: robot.command(vx=0.2))
    assert not [m for t, m in robot.obs.drain() if t == "obs"], "observations published with a servo missing"
    assert robot.wheel_goals() == [0, 0, 0]
    robot.emu.servos[3].faults.silent = False
    robot.newest_obs()  # back once the servo answers


def test_teardown_can_release_the_arm(tmp_path: Path) -> None:
    proc = RobotProc(tmp_path, release_torque_on_stop=True)
    try:
        proc.stream(0.5, lambda: proc.command(vx=0.2))
        assert proc.close() == 0
        time.sleep(0.05)
        assert proc.wheel_goals() == [0, 0, 0]
        assert all(proc.register(i, T.TORQUE_ENABLE) == 0 for i in ARM)
    finally:
        proc.emu.stop()


def test_a_missing_port_or_camera_ends_the_node_with_a_named_error(tmp_path: Path) -> None:
    import subprocess

    wiring = ["--set", f"publish=ipc://{tmp_path}/r.pub", "--set", f"inputs={{cmd.safe: 'ipc://{tmp_path}/f'}}"]
    base = ["-m", "hardware.node", "--config", str(REPO / "configs/hardware/mobile_so101.yaml"), *wiring]
    run = subprocess.run([sys.executable, *base, "--set", "bus.port=/dev/ttyNOPE3"], cwd=REPO, capture_output=True,
                         text=True, timeout=30)  # fmt: skip
    assert run.returncode == 2 and "serial port /dev/ttyNOPE3 does not exist" in run.stderr, run.stderr
    cams = ["--set", "cameras.head.source=test_pattern", "--set", "cameras.wrist.device=/dev/video98"]
    run = subprocess.run([sys.executable, *base, "--set", "emulate=true", *cams], cwd=REPO, capture_output=True,
                         text=True, timeout=30)  # fmt: skip
    assert run.returncode == 2 and "camera 'wrist': cannot open '/dev/video98'" in run.stderr, run.stderr


def test_a_latched_stop_refuses_every_later_command(robot: RobotProc) -> None:
    robot.stream(0.5, lambda: robot.command(vx=0.2, arm=[0.3, 0, 0, 0, 0]))
    reply = robot.rpc.call("stop", {"latch": True})
    assert reply["stopped"] is True and reply["latched"] is True and reply["at_rest"] is False  # still braking
    hold = [robot.register(i, T.GOAL_POSITION) for i in ARM]
    for _ in range(6):  # safety still proposing
        robot.send(robot.command(vx=0.2, arm=[-0.3, 0, 0, 0, 0]))
        time.sleep(0.05)
    until(lambda: robot.ticks("rejected_stop_latched") >= 6)
    assert robot.wheel_goals() == [0, 0, 0] and [robot.register(i, T.GOAL_POSITION) for i in ARM] == hold
    assert robot.rpc.call("stop", {})["latched"] is True  # for the rest of the process
    until(lambda: robot.rpc.call("stop", {"latch": True})["at_rest"])


def test_sigterm_brings_the_wheels_to_rest_before_the_node_exits(tmp_path: Path) -> None:
    proc = RobotProc(tmp_path, base={"acceleration": 20})  # 2000 steps/s^2: about a second to stop
    try:
        proc.stream_until(lambda: max(abs(v) for v in proc.wheel_speeds()) > 1000, lambda: proc.command(vx=0.2))
        assert proc.close() == 0
        assert max(abs(v) for v in proc.wheel_speeds()) < 40  # read back at rest (0.05 rad/s) before exiting
    finally:
        proc.emu.stop()


def test_the_guardian_stops_the_wheels_when_the_node_is_killed(robot: RobotProc) -> None:
    make = partial(robot.command, vx=0.2, arm=[0.3, 0, 0, 0, 0])
    robot.stream_until(lambda: min(abs(g) for g in robot.wheel_goals()) > 500, make)
    robot.proc.kill()  # SIGKILL: no teardown; the servos would keep their last speed
    robot.proc.wait()
    until(lambda: robot.wheel_goals() == [0, 0, 0], timeout=3.0)
    assert all(robot.register(i, T.TORQUE_ENABLE) == 1 for i in ARM)  # the arm still holds


def test_an_unplugged_adapter_ends_the_node_with_an_error(tmp_path: Path) -> None:
    log = tmp_path / "robot.log"
    proc = RobotProc(tmp_path, log=log)
    try:
        proc.stream(0.3, lambda: proc.command(vx=0.2))
        proc.emu.unplug()
        assert proc.proc.wait(timeout=15) == 3
    finally:
        proc.close(check=False)
        proc.emu.stop()
    text = log.read_text()
    assert "serial port lost" in text and "Traceback" not in text, text


def test_joints_outside_their_range_at_startup_are_never_moved(tmp_path: Path) -> None:
    import subprocess

    start = {1: 700, 3: 3400}  # shoulder_pan below 776, elbow_flex above 3170
    cal = load_calibration(FOLLOWER)
    emu = EmulatedBus([EmulatedServo(j.id, start.get(j.id, 2048)) for j in cal.all_joints] +
                      [EmulatedServo(i) for i in WHEELS]).start()  # fmt: skip
    cameras = {"head": {"source": "test_pattern"}, "wrist": {"source": "test_pattern"}}
    cfg = {"publish": f"ipc://{tmp_path}/r.pub", "inputs": {"cmd.safe": f"ipc://{tmp_path}/f"},
           "bus": {"port": emu.path, "latency_ms": 40.0}, "cameras": cameras}  # fmt: skip
    node = subprocess.Popen([sys.executable, "-m", "hardware.node", "--config",
                             str(REPO / "configs/hardware/mobile_so101.yaml"),
                             *sum((["--set", f"{k}={json.dumps(v)}"] for k, v in cfg.items()), [])],
                            cwd=REPO, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _, stderr = node.communicate(timeout=20)
        with emu.lock:
            goals = {i: emu.servos[i].get(T.GOAL_POSITION) for i in start}
            torque = [emu.servos[i].get(T.TORQUE_ENABLE) for i in ARM]
    finally:
        node.kill()
        node.wait()
        emu.stop()
    assert node.returncode == 2, stderr
    assert "'shoulder_pan' (servo 1) at tick 700, range 776..3320" in stderr, stderr
    assert goals == start and not any(torque)
