"""The sim backend node: the only thing that moves the simulated robot, and only on safe commands."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agent.runtime.command_gate import refusal
from agent.runtime.messages import Command, Observation, TaskStatus
from agent.runtime.node import Node, NodeConfig, run_node
from sim.expert import Expert
from sim.tasks import TaskStatus as EpisodeStatus
from sim.world import SimWorld

REST_SPEED = 0.005  # m/s and rad/s: a base slower than this on every axis is at rest
SETTLE_S = 2.0  # sim time the node brakes for on exit before it gives up waiting for rest


@dataclass
class SimNodeConfig(NodeConfig):
    """Parameters of the sim backend; see configs/sim/default.yaml."""

    robot: str = "mobile_so101"
    task: str = "fetch"
    seed: int = 0
    task_args: dict[str, str] = field(default_factory=dict)
    image_size: list[int] = field(default_factory=lambda: [64, 64])
    control_hz: float = 10.0
    physics_hz: float = 240.0
    render: bool = True  # False: blank images (physics-only benchmarks and data without cameras)
    renderer: Literal["tiny", "egl", "auto"] = "tiny"  # egl: OpenGL headless (GPU or Mesa); auto: egl, else tiny
    mode: Literal["realtime", "lockstep"] = "realtime"
    command_topic: str = "cmd.safe"  # the only topic commands are accepted from
    accept_sources: list[str] = field(default_factory=list)  # Command.source allow-list; empty = any
    deadman_s: float = 0.25  # sim time without a fresh valid command -> base stops, arm holds
    lockstep_wait_s: float = 0.5  # lockstep: wall time to wait for a command before stepping without
    autostart: bool = True  # reset(task, seed) at startup
    exit_on_done: bool = False  # stop the node (exit 0) when the episode ends
    exit_grace_s: float = 0.5  # exit_on_done: answer RPCs this long after the end (peers learn it is over)
    log_path: str = ""  # JSON lines per step: sim time, velocities, command state (for audits/tests)

    def check(self) -> None:
        super().check()
        if self.command_topic not in self.inputs:
            raise ValueError(f"key 'command_topic' = {self.command_topic!r} is not in 'inputs' {sorted(self.inputs)}")
        if len(self.image_size) != 2 or min(self.image_size) < 8:
            raise ValueError(f"key 'image_size' = {self.image_size}: expected [height, width], each >= 8")
        if self.physics_hz % self.control_hz:
            raise ValueError("key 'physics_hz' must be a multiple of 'control_hz'")


class SimNode(Node):
    """Publishes observations at the control rate; applies the latest valid command or stops."""

    config_cls = SimNodeConfig

    def __init__(self, config: SimNodeConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.world: SimWorld | None = None
        self.expert: Expert | None = None  # made by the first expert_action of an episode (IK: a pybullet client)
        self.status: EpisodeStatus | None = None  # of the episode after the last step (stepping stops when done)
        self.command: Command | None = None
        self.command_sim_time = -1.0  # sim time at which the current command arrived
        self.fresh = False  # lockstep: a command arrived since the last step
        self.waiting_since = 0.0
        self.episode = 0
        self.scene_info: dict[str, Any] = {}  # what the current episode's static scene is built from
        self.log_file = None
        self.exit_at: float | None = None  # exit_on_done: when the grace after the episode's end is over
        self.latched = False  # a latched stop: no command is accepted again; the base brakes until exit
        self.base_speed = 0.0  # fastest base axis at the last observation
        self.on(config.command_topic, self._on_command, Command)
        if config.mode == "realtime":
            self.every(config.control_hz, self._tick)
        else:
            self.every(100.0, self._lockstep_poll)  # steps without a command once lockstep_wait_s passed
        if config.exit_on_done:
            self.every(20.0, self._exit_when_due)

    # ----- lifecycle ----------------------------------------------------------------------
    def setup(self) -> None:
        h, w = self.cfg.image_size
        self.world = SimWorld(
            self.cfg.robot,
            image_size=(h, w),
            control_hz=self.cfg.control_hz,
            physics_hz=self.cfg.physics_hz,
            render=self.cfg.render,
            renderer=self.cfg.renderer,
        )
        if self.cfg.log_path:
            Path(self.cfg.log_path).parent.mkdir(parents=True, exist_ok=True)
            self.log_file = Path(self.cfg.log_path).open("a")
        if self.cfg.autostart:
            self._reset(self.cfg.task, self.cfg.seed, self.cfg.task_args)

    def teardown(self) -> None:
        self._close_expert()
        if self.world is not None:
            if self.status is not None:  # an episode is loaded: leave its robot at rest
                self._come_to_rest()
            self.world.close()
        if self.log_file is not None:
            self.log_file.close()

    def rpc_handlers(self) -> dict[str, Any]:
        return {
            **super().rpc_handlers(),
            "reset": lambda p: self._reset(
                str(p.get("task", self.cfg.task)), int(p.get("seed", 0)), dict(p.get("args", {}))
            ),
            "status": lambda _: self._status_dict(),
            "stop": self._rpc_stop,
            "features": lambda _: self._world().features,
            "scene": lambda _: dict(self.scene_info),
            "expert_action": self._expert_action,
        }

    def _world(self) -> SimWorld:
        if self.world is None:
            raise RuntimeError("sim world not set up yet")
        return self.world

    def _reset(self, task: str, seed: int, args: dict[str, str]) -> dict[str, Any]:
        if "layout_seed" in args:  # the `scene` rpc names the apartment by `seed`; one seed per episode here
            raise ValueError("reset args may not set 'layout_seed': the seed picks the apartment on the sim node")
        world = self._world()
        world.reset(task, seed, **args)
        self._close_expert()
        self.status = world.task_status()
        self.scene_info = {"scene": world.scene_name, "seed": seed, "task": task, "episode": self.episode + 1}
        self.command, self.command_sim_time, self.fresh = None, -1.0, False
        self.episode += 1
        self.counters["episodes"] += 1
        self.log.info("episode %d: %s seed %d %s", self.episode, task, seed, args or "")
        self._publish_observation()
        self.waiting_since = time.monotonic()
        return self._status_dict()

    def _rpc_stop(self, p: dict[str, Any]) -> dict[str, Any]:
        """Stop the robot now and drop the current command; motion needs a new command. With
        {"latch": true} (shutdown) every later command is refused, for the rest of the node's life."""
        self._world().stop()
        self.command = None
        self.counters["stop_requests"] += 1
        if p.get("latch") and not self.latched:
            self.latched = True
            self.log.warning("stop latched: every command is refused from now on")
        return {"stopped": True, "latched": self.latched, "at_rest": self.base_speed < REST_SPEED}

    def _expert_action(self, _: dict[str, Any]) -> dict[str, Any]:
        """The scripted expert's action on privileged state (sim only; never available on hardware);
        {"done": true, ...} once the episode has ended: there is nothing left to act on."""
        if self.status is None:
            raise RuntimeError("no episode running")
        if self.status.done:
            return {"done": True, "success": bool(self.status.success), "episode": self.episode}
        if self.expert is None:
            self.expert = Expert(self._world())
        base, arm, gripper = self.expert.act()
        return {"base_vel": np.asarray(base).tolist(), "arm": np.asarray(arm).tolist(), "gripper": float(gripper)}

    def _close_expert(self) -> None:
        """Drop the expert of the last episode and disconnect its IK client."""
        if self.expert is not None:
            self.expert.close()
            self.expert = None

    # ----- commands -----------------------------------------------------------------------
    def _on_command(self, msg: Command) -> None:
        world = self._world()
        why = refusal(msg, self.command, latched=self.latched, episode=self.episode, n_arm=world.robot.n_arm,
                      accept_sources=self.cfg.accept_sources, now=time.monotonic())  # fmt: skip
        if why is not None:  # out-of-range values were refused by the codec; the world clips to the limits
            self._reject(*why)
            return
        self.command = msg
        self.command_sim_time = world.time
        self.fresh = True
        if self.cfg.mode == "lockstep":  # step at once: a timer tick would add its period to every step
            self._lockstep_poll()

    def _reject(self, reason: str, detail: str) -> None:
        self.counters[f"rejected_{reason}"] += 1
        if self.counters[f"rejected_{reason}"] <= 3:
            self.log.warning("command rejected (%s): %s", reason, detail)

    # ----- stepping -----------------------------------------------------------------------
    def _tick(self) -> None:
        if self.latched:
            self._brake()
        else:
            self._step()

    def _lockstep_poll(self) -> None:
        """Lockstep: step as soon as a fresh command is in, or when waiting took too long; once a stop
        is latched no command will come, so brake at the control rate."""
        waited = time.monotonic() - self.waiting_since
        if self.latched:
            if waited >= 1.0 / self.cfg.control_hz:
                self._brake()
                self.waiting_since = time.monotonic()
        elif self.fresh or waited > self.cfg.lockstep_wait_s:
            self._step()
            self.waiting_since = time.monotonic()

    def _brake(self) -> None:
        """One step without a command: the base decelerates within its limits, the arm holds."""
        world = self._world()
        world.stop()
        world.step()
        self._log_step(self._publish_observation(), None)

    def _come_to_rest(self) -> None:
        """On exit: brake until the base is at rest, or for at most SETTLE_S of sim time. Nothing is
        published: peers would act on it while this node no longer answers them."""
        world = self._world()
        end = world.time + SETTLE_S
        while self.base_speed >= REST_SPEED and world.time < end:
            world.stop()
            world.step()
            self._log_step(self._observe(), None)

    def _step(self) -> None:
        world = self._world()
        if self.status is not None and self.status.done:
            return
        now_sim = world.time
        # Deadman on sim time; in realtime the command's own wall-clock deadline counts too
        # (lockstep runs faster than the wall clock, so there only arrival is checked against it).
        live = (
            self.command is not None
            and now_sim - self.command_sim_time <= self.cfg.deadman_s
            and (self.cfg.mode == "lockstep" or self.command.valid_until >= time.monotonic())
        )
        if live:
            assert self.command is not None
            applied = world.apply(self.command.base_vel, self.command.arm, self.command.gripper)
        else:
            world.stop()
            applied = None
            if self.command is not None:
                self.counters["deadman_stops"] += 1
        self.fresh = False
        world.step()
        obs = self._publish_observation()
        self._log_step(obs, applied)
        self.status = status = world.task_status()
        if status.done:
            self._publish_status(status)
            self.log.info(
                "episode %d done: success=%s steps=%d %s",
                self.episode,
                status.success,
                status.steps,
                {k: round(v, 3) for k, v in status.metrics.items()},
            )
            if self.cfg.exit_on_done:
                self.exit_at = time.monotonic() + self.cfg.exit_grace_s
        elif status.steps % int(self.cfg.control_hz) == 0:
            self._publish_status(status)

    def _exit_when_due(self) -> None:
        if self.exit_at is not None and time.monotonic() >= self.exit_at:
            self.request_stop()

    def _observe(self) -> dict[str, Any]:
        obs = self._world().observe()
        self.base_speed = float(np.max(np.abs(obs["base_vel"])))
        return obs

    def _publish_observation(self) -> dict[str, Any]:
        obs = self._observe()
        self.publish(
            "obs",
            Observation(
                head=obs["head"],
                wrist=obs["wrist"],
                base_pose=obs["base_pose"],
                base_vel=obs["base_vel"],
                arm=obs["arm"],
                arm_vel=obs["arm_vel"],
                gripper=float(obs["gripper"]),
                sim_time=float(obs["time"]),
                episode=self.episode,
            ),
        )
        return obs

    def _publish_status(self, status: Any) -> None:
        state = "running" if not status.done else ("succeeded" if status.success else "failed")
        self.publish(
            "task_status",
            TaskStatus(
                task=status.task,
                state=state,
                success=bool(status.success),
                steps=int(status.steps),
                metrics={k: float(v) for k, v in status.metrics.items()},
            ),
        )

    def _status_dict(self) -> dict[str, Any]:
        status = self._world().task_status()
        return {
            "task": status.task,
            "success": bool(status.success),
            "done": bool(status.done),
            "steps": int(status.steps),
            "metrics": {k: float(v) for k, v in status.metrics.items()},
            "episode": self.episode,
            "counters": dict(self.counters),
        }

    def _log_step(self, obs: dict[str, Any], applied: dict[str, Any] | None) -> None:
        if self.log_file is None:
            return
        row = {
            "t": round(float(obs["time"]), 4),
            "base_vel": np.round(obs["base_vel"], 5).tolist(),
            "arm_vel": np.round(obs["arm_vel"], 5).tolist(),
            "commanded": applied is not None,
            "latched": self.latched,
            "cmd_seq": self.command.seq if applied is not None and self.command else None,
        }
        self.log_file.write(json.dumps(row) + "\n")
        self.log_file.flush()


NODE = SimNode

if __name__ == "__main__":
    raise SystemExit(run_node(SimNode))
