"""The teleop node: polls one device at the control rate and proposes commands; drives episodes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.runtime.bus import RpcError, RpcTimeout
from agent.runtime.messages import Command, Observation, TaskStatus
from agent.runtime.node import Node, NodeConfig, run_node
from agent.teleop.gamepad import GamepadConfig, GamepadSource
from agent.teleop.source import ESTOP, NEXT, QUIT, RERECORD, DeviceError, TeleopSource


@dataclass
class TeleopConfig(NodeConfig):
    """Parameters of the teleop node."""

    device: Literal["keyboard", "gamepad", "script", "file", "leader"] = "keyboard"
    tty: str = "/dev/tty"  # keyboard: the terminal to read keys from
    script_file: str = ""  # file: JSON lines of commands
    leader_driver: str = ""  # leader: 'package.module:Class' implementing LeaderArm
    leader_args: dict[str, Any] = field(default_factory=dict)
    backend_rpc: str = ""  # the backend's rpc: features, reset, stop (and expert_action in sim)
    recorder_rpc: str = ""  # the recorder's rpc, when recording
    recorder_timeout_s: float = 2.0  # one try (a save commits the episode); no answer: go on without it
    safety_rpc: str = ""  # the safety node's rpc, for the e-stop key
    command_topic: str = "cmd.proposed"
    rate_hz: float = 10.0
    command_ttl_s: float = 0.3
    sim_task: str = "fetch"  # what the backend resets to between episodes
    seed: int = 0  # first episode's seed; each next episode adds 1
    task: str = ""  # instruction stored with recorded episodes (default: the sim task name)
    episodes: int = 0  # quit after this many episodes (0: until Esc)
    auto_next: bool = False  # start the next episode when the task reports done (scripted runs)
    joint_step: float = 0.05  # keyboard: rad per key press
    gamepad: GamepadConfig = field(default_factory=GamepadConfig)  # gamepad: index, deadzone, axis/button map

    def check(self) -> None:
        super().check()
        if not self.backend_rpc:
            raise ValueError("key 'backend_rpc' must name the backend's rpc endpoint")
        if "obs" not in self.inputs:
            raise ValueError("the teleop node needs 'obs' in 'inputs'")
        if self.device == "file" and not self.script_file:
            raise ValueError("device 'file' needs key 'script_file'")
        if self.device == "leader" and not self.leader_driver:
            raise ValueError("device 'leader' needs key 'leader_driver' (package.module:Class)")


class TeleopNode(Node):
    """Sends the device's motion as proposed commands; keys/events save, redo or reset episodes."""

    config_cls = TeleopConfig
    latest_topics = frozenset({"obs"})

    def __init__(self, config: TeleopConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.obs: Observation | None = None
        self.source: TeleopSource | None = None
        self.backend = self.rpc_client(config.backend_rpc)
        self.recorder = self.rpc_client(config.recorder_rpc) if config.recorder_rpc else None
        self.seed = config.seed
        self.done_episodes = 0
        self.estopped = False
        self.on("obs", self._on_obs, Observation)
        if "task_status" in config.inputs:
            self.on("task_status", self._on_status, TaskStatus)
        self.every(config.rate_hz, self._tick)

    def setup(self) -> None:
        self.features = self.backend.call("features", timeout=2.0, retries=5)
        try:
            self.source = self._make_source()
        except DeviceError as exc:
            self.log.error("%s", exc)
            raise SystemExit(2) from None
        self._new_episode(self.seed)

    def _make_source(self) -> TeleopSource:
        cfg, feats = self.cfg, self.features
        if cfg.device == "keyboard":
            from agent.teleop.keyboard import KeyboardSource

            return KeyboardSource(cfg.tty, feats["action"]["base_vel"]["high"], cfg.joint_step)
        if cfg.device == "gamepad":
            arm = feats["action"]["arm_targets"]
            return GamepadSource(cfg.gamepad, feats["action"]["base_vel"]["high"], arm["low"], arm["high"])
        if cfg.device == "script":
            from agent.teleop.scripted import ExpertSource

            return ExpertSource(self.rpc_client(cfg.backend_rpc))
        if cfg.device == "file":
            from agent.teleop.scripted import FileSource

            return FileSource(cfg.script_file)
        from agent.teleop.leader import LeaderArmSource, load_driver

        arm = feats["action"]["arm_targets"]
        return LeaderArmSource(load_driver(cfg.leader_driver, **cfg.leader_args), arm["low"],
                               arm["high"])  # fmt: skip

    def teardown(self) -> None:
        if self.source is not None:
            self.source.close()
        for client in (self.backend, self.recorder):
            if client is not None:
                client.close()

    # ----- loop ---------------------------------------------------------------------------
    def _on_obs(self, msg: Observation) -> None:
        self.obs = msg

    def _on_status(self, msg: TaskStatus) -> None:
        if self.cfg.auto_next and msg.state in ("succeeded", "failed"):
            self._handle(NEXT)

    def _tick(self) -> None:
        assert self.source is not None
        motion, events = self.source.poll(self.obs)
        for event in events:
            self._handle(event)
        if motion is None or self.obs is None or self.estopped or self.stopping:
            return
        self.publish(self.cfg.command_topic, Command(
            base_vel=motion.base_vel,
            arm=self.obs.arm if motion.arm is None else motion.arm,
            gripper=self.obs.gripper if motion.gripper is None else motion.gripper,
            valid_until=time.monotonic() + self.cfg.command_ttl_s,
            source=self.cfg.name,
        ))  # fmt: skip
        self.counters["commands"] += 1

    # ----- events -------------------------------------------------------------------------
    def _handle(self, event: str) -> None:
        self.counters[f"event_{event}"] += 1
        self.log.info("event: %s", event)
        if event == ESTOP:
            self._estop()
        elif event == QUIT:
            self.request_stop()
        elif event in (NEXT, RERECORD):
            if self.recorder is not None:
                success = bool(self.backend.call("status", timeout=1.0)["success"])
                self._tell_recorder("save" if event == NEXT else "discard", {"success": success})
            if event == NEXT:
                self.done_episodes += 1
                self.seed += 1
                if self.cfg.episodes and self.done_episodes >= self.cfg.episodes:
                    self.request_stop()
                    return
            self._new_episode(self.seed)

    def _tell_recorder(self, method: str, params: dict[str, Any]) -> None:
        """A recorder that does not answer (killed, restarting) costs its episode, never the session."""
        if self.recorder is None:
            return
        try:
            self.recorder.call(method, params, timeout=self.cfg.recorder_timeout_s, retries=0)
        except (RpcError, RpcTimeout) as exc:
            self.counters["recorder_errors"] += 1
            self.log.error("recorder did not take '%s' (%s); this episode is not recorded", method, exc)

    def _new_episode(self, seed: int) -> None:
        """Reset the backend (sim) to the task at `seed` and tell the recorder what it is."""
        self.estopped = False
        if self.recorder is not None:
            info = {"task": self.cfg.task or self.cfg.sim_task, "sim_task": self.cfg.sim_task,
                    "seed": seed}  # fmt: skip
            self._tell_recorder("episode_info", info)
        self.backend.call("reset", {"task": self.cfg.sim_task, "seed": seed}, timeout=10.0)
        self.obs = None
        reset_arm = getattr(self.source, "reset_arm", None)
        if reset_arm is not None:
            reset_arm()

    def _estop(self) -> None:
        """Stop sending motion, stop the backend, and latch the safety e-stop where there is one."""
        self.estopped = True
        try:
            self.backend.call("stop", timeout=0.5, retries=1)
        except (RpcError, RpcTimeout) as exc:
            self.log.error("backend stop failed (%s); its deadman stops the robot", exc)
        if not self.cfg.safety_rpc:
            self.log.warning("E-STOP: motion stopped; start a new episode (n / r) to drive again")
            return
        safety = self.rpc_client(self.cfg.safety_rpc)
        try:
            safety.call("estop", {"reason": f"teleop e-stop ({self.cfg.device})"}, timeout=0.5, retries=1)
        except (RpcError, RpcTimeout) as exc:
            self.log.error("safety e-stop call failed: %s", exc)
        finally:
            safety.close()
        self.log.warning(
            "E-STOP latched in the safety node: nothing moves until `amibot estop --reset --reason ...`, "
            "then start a new episode (n / r)"
        )


NODE = TeleopNode

if __name__ == "__main__":
    raise SystemExit(run_node(TeleopNode))
