"""The hardware backend node: the only thing that moves the real robot, and only on safe commands.

Mirrors sim/node.py: `features`, `reset`, `status`, `stop`, `scene` RPCs; Observation on `obs` at the
control rate; its own deadman (wheels to zero speed, arm holds where it is). A guardian process stops
the wheels if this process dies without doing so; a lost serial port ends the node (exit code 3).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from agent.robot.config import load_robot_config
from agent.robot.features import robot_features
from agent.runtime.command_gate import refusal
from agent.runtime.config import ConfigError
from agent.runtime.messages import Command, Observation
from agent.runtime.node import Node, run_node
from hardware.cameras import Camera, open_camera
from hardware.config import HardwareNodeConfig, resolve
from hardware.fault_log import FaultLog
from hardware.feetech.bus import BusError, FeetechBus
from hardware.feetech.calibration import load_calibration
from hardware.feetech.emulator import EmulatorProcess
from hardware.feetech.motors import PositionJoints, Wheels
from hardware.guardian import Guardian
from hardware.kinematics import OmniKinematics, integrate

EMULATOR_LATENCY_MS = 50.0  # the emulator is a process on a shared CPU, not a servo: give it time to answer
LIMIT_TOL = 1e-6  # commands this far past a limit are still in range (float round trips)
REST_RAD_S = 0.05  # wheels slower than this [rad/s] are at rest
REST_TIMEOUT_S = 2.0  # teardown waits this long for the wheels to come to rest (the launcher waits 3 s)
PORT_LOST_EXIT = 3  # exit code when the serial port goes away


class HardwareNode(Node):
    """Reads the servos and cameras at the control rate, publishes obs, applies the latest valid command."""

    config_cls = HardwareNodeConfig

    def __init__(self, config: HardwareNodeConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.robot = load_robot_config(config.robot)
        h, w = config.image_size
        self.features = robot_features(self.robot, (h, w), config.control_hz)
        self.n_arm = self.robot.n_arm
        self.kin = OmniKinematics(config.base.wheel_angles_deg, config.base.base_radius, config.base.wheel_radius)
        self.emulator: EmulatorProcess | None = None
        self.bus: FeetechBus | None = None
        self.joints: PositionJoints | None = None
        self.wheels: Wheels | None = None
        self.cameras: dict[str, Camera] = {}
        self.guardian: Guardian | None = None
        self.latched = False  # a latched stop: every command is refused for the rest of this process
        self.faults = FaultLog()
        self.command: Command | None = None
        self.command_time = 0.0  # monotonic arrival of the current command
        self.hold: np.ndarray | None = None  # joint goals [rad] held while no command is live
        self.pose = np.zeros(3)
        self.last_tick: float | None = None
        self.t0 = time.monotonic()
        self.episode = 0
        self.steps = 0
        self.failed_ticks = 0
        self.on(config.command_topic, self._on_command, Command)
        self.every(config.control_hz, self._tick)

    # ----- lifecycle ----------------------------------------------------------------------
    def setup(self) -> None:
        try:
            self._open_devices()
        except (RuntimeError, ConfigError) as exc:  # bus, camera, servo model, emulator: one line, no traceback
            self.log.error("%s", exc)
            raise SystemExit(2) from None
        self._new_episode()

    def _open_devices(self) -> None:
        """Bus (or its emulator), servos configured and torqued, cameras open."""
        cfg = self.cfg
        cal_path = resolve(cfg.calibration)
        cal = load_calibration(cal_path)
        if len(cal.joints) != self.n_arm or cal.gripper is None:
            raise ConfigError(f"{cal_path}: {len(cal.joints)} arm joints (+ gripper: {cal.gripper is not None}); "
                             f"robot '{self.robot.name}' has {self.n_arm} arm joints and a gripper")  # fmt: skip
        port, latency = cfg.bus.port, cfg.bus.latency_ms
        if cfg.emulate:
            self.emulator = EmulatorProcess(str(cal_path), cfg.base.wheel_ids)
            port, latency = self.emulator.path, max(latency, EMULATOR_LATENCY_MS)
            self.log.warning("EMULATED robot: servo bus on %s (no hardware is moved)", port)
        self.bus = FeetechBus(port, cfg.bus.baudrate, cfg.bus.retries, latency).open()
        if not cfg.emulate:  # an emulator dies with this node: nothing would be left to stop
            self.guardian = Guardian(port, cfg.bus.baudrate, latency, cfg.base.wheel_ids)
        self.joints = PositionJoints(self.bus, cal, cfg.arm_acceleration)
        self.wheels = Wheels(self.bus, cfg.base.wheel_ids, cfg.base.wheel_directions, cfg.base.acceleration)
        self.wheels.connect()
        self.joints.connect()
        reach = [self.wheels.max_speed / np.abs(self.kin.wheel_speeds(axis)).max() for axis in np.eye(3)]
        if any(v > r + 1e-9 for v, r in zip(self.robot.base.max_vel, reach, strict=True)):
            self.log.warning("base max_vel %s exceeds what the wheels reach alone (%s): faster commands "
                             "are scaled down, direction kept", self.robot.base.max_vel,
                             np.round(reach, 3).tolist())  # fmt: skip
        h, w = cfg.image_size
        for name, cam_cfg in cfg.cameras.items():
            self.cameras[name] = open_camera(name, cam_cfg, (h, w))
        self.hold = self.joints.read()[0]
        if self.guardian is not None:
            self.guardian.wait_ready()

    def teardown(self) -> None:
        """Wheels stopped and at rest; the arm keeps holding unless release_torque_on_stop; then close
        everything. The guardian is told the wheels are stopped, or else stops them itself."""
        stopped = False
        try:
            if self.wheels is not None:
                self.wheels.stop()
                stopped = self._wait_for_rest(REST_TIMEOUT_S)
            if self.joints is not None and self.cfg.release_torque_on_stop:
                self.joints.torque(False)
                self.log.info("arm torque released")
        except BusError as exc:
            self.log.error("could not stop the robot on the way out: %s (use the hardware e-stop)", exc)
        finally:
            if self.guardian is not None:
                self.guardian.release(clean=stopped)
            for cam in self.cameras.values():
                cam.close()
            if self.bus is not None:
                self.bus.close()
            if self.emulator is not None:
                self.emulator.close()

    def rpc_handlers(self) -> dict[str, Any]:
        return {
            **super().rpc_handlers(),
            "reset": lambda _: self._new_episode(),
            "status": lambda _: self._status_dict(),
            "stop": self._rpc_stop,
            "features": lambda _: self.features,
            "scene": self._scene,
        }

    def stats(self) -> dict[str, Any]:
        bus = {f"bus.{k}": v for k, v in self.bus.counters.items()} if self.bus else {}
        return {**super().stats(), "bus": bus}

    def _new_episode(self) -> dict[str, Any]:
        """Hardware cannot teleport: a reset only drops the command and starts a new episode number."""
        self.command = None
        self.episode += 1
        self.steps = 0
        self.counters["episodes"] += 1
        self.log.info("episode %d", self.episode)
        return self._status_dict()

    def _wait_for_rest(self, timeout_s: float) -> bool:
        """Read the wheel speeds back until they are at rest (True) or timeout_s passed (False)."""
        assert self.wheels is not None
        deadline = time.monotonic() + timeout_s
        while np.abs(self.wheels.read()).max(initial=0.0) >= REST_RAD_S:
            if time.monotonic() > deadline:
                self.log.error("wheels still turning %.1fs after the stop (use the hardware e-stop)", timeout_s)
                return False
            time.sleep(0.02)
        return True

    def _rpc_stop(self, params: dict[str, Any]) -> dict[str, Any]:
        """Stop the wheels and hold the arm now; motion needs a new command. {"latch": true}: refuse every
        command for the rest of this process (the launcher's shutdown). at_rest: the wheels, as read now."""
        assert self.joints is not None and self.wheels is not None
        self.command = None
        self.counters["stop_requests"] += 1
        self.latched = self.latched or bool(params.get("latch"))
        try:
            self.wheels.stop()  # first: a failing arm read below must not keep the base moving
            self.hold = self.joints.read()[0]
            self._apply(None)
            at_rest = bool(np.abs(self.wheels.read()).max(initial=0.0) < REST_RAD_S)
        except BusError as exc:  # an answer, not a traceback: the caller learns the stop is not confirmed
            self.log.error("stop: %s (use the hardware e-stop)", exc)
            return {"stopped": False, "latched": self.latched, "at_rest": False, "error": str(exc)}
        return {"stopped": True, "latched": self.latched, "at_rest": at_rest}

    def _scene(self, _: dict[str, Any]) -> dict[str, Any]:
        """No scene model on hardware: the answer has no scene/seed, so a scene-following safety node stops."""
        return {"known": False, "episode": self.episode,
                "detail": "hardware backend has no scene; give the safety node collision.map_file instead"}  # fmt: skip

    def _status_dict(self) -> dict[str, Any]:
        return {"task": "teleop", "success": False, "done": False, "steps": self.steps, "metrics": {},
                "episode": self.episode, "counters": dict(self.counters)}  # fmt: skip

    # ----- commands -----------------------------------------------------------------------
    def _on_command(self, msg: Command) -> None:
        reason = self._refuse(msg)
        if reason is not None:
            self._reject(*reason)
            return
        self.command = msg
        self.command_time = time.monotonic()

    def _refuse(self, msg: Command) -> tuple[str, str] | None:
        """Why a command must not move the robot (reason code, detail), or None: the checks every
        backend makes, then (the motors get exactly these values, nothing clips them) finite and in range."""
        why = refusal(msg, self.command, latched=self.latched, episode=self.episode, n_arm=self.n_arm,
                      accept_sources=self.cfg.accept_sources, now=time.monotonic())  # fmt: skip
        if why is not None:
            return why
        if not (np.isfinite(msg.arm).all() and np.isfinite(msg.base_vel).all() and np.isfinite(msg.gripper)):
            return "nonfinite", "NaN or inf in the command"
        arm = self.features["action"]["arm_targets"]
        if (msg.arm < np.asarray(arm["low"]) - LIMIT_TOL).any() or (
            msg.arm > np.asarray(arm["high"]) + LIMIT_TOL
        ).any():
            return "range", f"arm targets {np.round(msg.arm, 3).tolist()} outside the joint limits"
        if (np.abs(msg.base_vel) > np.asarray(self.robot.base.max_vel) + LIMIT_TOL).any():
            return "range", f"base velocity {msg.base_vel.tolist()} above {self.robot.base.max_vel}"
        if not 0.0 <= msg.gripper <= 1.0:
            return "range", f"gripper {msg.gripper} outside 0..1"
        return None

    def _reject(self, reason: str, detail: str) -> None:
        self.counters[f"rejected_{reason}"] += 1
        if self.counters[f"rejected_{reason}"] <= 3:
            self.log.warning("command rejected (%s): %s", reason, detail)

    # ----- control loop -------------------------------------------------------------------
    def _live(self, now: float) -> bool:
        c = self.command
        return c is not None and now - self.command_time <= self.cfg.deadman_s and c.valid_until >= now

    def _apply(self, cmd: Command | None) -> None:
        """Send a command's wheel speeds and joint goals; None: wheels to zero, joints hold."""
        assert self.joints is not None and self.wheels is not None
        if cmd is None:
            self.wheels.stop()
            if self.hold is not None:
                self.joints.write(self.hold)
            return
        cal = self.joints.cal
        wanted = self.kin.wheel_speeds(cmd.base_vel)
        if np.abs(self.wheels.write(wanted)).max(initial=0.0) < np.abs(wanted).max(initial=0.0) - 1e-3:
            self.counters["wheel_saturated"] += 1  # scaled down uniformly: same direction, slower
        self.hold = self.joints.write(np.append(cmd.arm, cal.gripper_rad(cmd.gripper)))

    def _tick(self) -> None:
        """One control period; any failure in it (bus, camera, a bug) stops the wheels: fail closed."""
        try:
            self._control(time.monotonic())
        except Exception:
            self.health = "error"
            self.counters["tick_errors"] += 1
            if self.faults.due("tick_error", time.monotonic()):
                self.log.exception("control tick failed (#%d); stopping the wheels", self.counters["tick_errors"])
            self.command = None
            self._stop_wheels()

    def _control(self, now: float) -> None:
        assert self.joints is not None and self.wheels is not None
        try:
            q, dq = self.joints.read()
            twist = self.kin.twist(self.wheels.read())
            live = self._live(now)
            if not live and self.command is not None:
                self.counters["deadman_stops"] += 1
                self.command = None
                self.hold = q  # hold where the arm is now, not where it was last sent
            self._apply(self.command if live else None)
        except BusError as exc:
            self._bus_failure(exc)
            return
        if self.last_tick is not None:
            self.pose = integrate(self.pose, twist, now - self.last_tick)
        self.last_tick = now
        self.failed_ticks = 0
        self.steps += 1
        self.counters["commanded_ticks" if live else "idle_ticks"] += 1
        cal = self.joints.cal
        self.publish("obs", Observation(
            head=self.cameras["head"].read(), wrist=self.cameras["wrist"].read(),
            base_pose=self.pose.copy(), base_vel=twist, arm=q[: self.n_arm], arm_vel=dq[: self.n_arm],
            gripper=cal.gripper_opening(float(q[self.n_arm])), sim_time=now - self.t0, episode=self.episode,
        ))  # fmt: skip
        self.health = "ok"  # only once the observation is out

    def _bus_failure(self, exc: BusError) -> None:
        """Count and log (each kind of fault of each servo at once, then at most every few seconds); no
        observation this tick (safety stops on stale state); try to stop the wheels. A lost port is fatal."""
        self.failed_ticks += 1
        self.counters["bus_errors"] += 1
        self.counters[f"bus_error.{exc.kind}"] += 1
        self.health = "error" if self.failed_ticks >= self.cfg.max_bus_errors else "degraded"
        if exc.kind == "port":
            self.log.error("serial port lost: %s; the node stops (exit code %d)", exc, PORT_LOST_EXIT)
            raise SystemExit(PORT_LOST_EXIT)
        if self.faults.due(("bus", exc.kind, exc.servo_id, exc.error_bits), time.monotonic()):
            self.log.error("bus error (#%d, servo %s): %s", self.counters["bus_errors"], exc.servo_id, exc)
        self._stop_wheels()

    def _stop_wheels(self) -> None:
        """Best effort after a failure: wheels to zero speed; if even that fails, count and say so."""
        try:
            assert self.wheels is not None
            self.wheels.stop()
        except BusError as exc:
            self.counters["bus_stop_failed"] += 1
            if self.faults.due("stop_failed", time.monotonic()):
                self.log.error("could not stop the wheels: %s (use the hardware e-stop)", exc)


NODE = HardwareNode

if __name__ == "__main__":
    raise SystemExit(run_node(HardwareNode))
