"""Recorder node: pairs each observation with the command in force and writes episodes to a dataset.

Frame t is (observation t, the command the backend was acting on until observation t+1), so a
frame is written when the next observation (or the end of the episode) arrives. Episodes end when
the backend's episode number changes, on a final TaskStatus, or on the `save` / `discard` RPCs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.data.spec import DatasetSpec, action_vector, spec_from_features, state_vector
from agent.data.writer import DatasetWriter
from agent.runtime.messages import Command, Observation, TaskStatus
from agent.runtime.node import Node, NodeConfig, run_node


@dataclass
class RecorderConfig(NodeConfig):
    """Parameters of the recorder node."""

    root: str = ""  # dataset root; an existing dataset there is appended to
    backend_rpc: str = ""  # the backend's rpc endpoint: `features` (names, image size), `status`
    robot_type: str = "mobile_so101"
    obs_topic: str = "obs"
    command_topic: str = "cmd.safe"
    status_topic: str = "task_status"  # optional: final statuses end episodes with their outcome
    task: str = ""  # instruction stored with each episode (default: the backend's task name)
    command_timeout_s: float = 0.25  # an older command is no longer in force (backend deadman)
    episodes: int = 0  # stop the node after saving this many episodes (0: run until stopped)
    min_frames: int = 2  # shorter episodes are discarded
    wait_for_info: bool = False  # record only episodes announced by the `episode_info` RPC

    def check(self) -> None:
        super().check()
        if not self.root:
            raise ValueError("key 'root' must name the dataset directory")
        if not self.backend_rpc:
            raise ValueError("key 'backend_rpc' must name the backend's rpc endpoint")
        for key in ("obs_topic", "command_topic"):
            if getattr(self, key) not in self.inputs:
                raise ValueError(f"key '{key}' = {getattr(self, key)!r} is not in 'inputs'")


class RecorderNode(Node):
    """Writes (observation, command in force) frames into LeRobot v3.0 episodes, crash-safely."""

    config_cls = RecorderConfig

    def __init__(self, config: RecorderConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.writer: DatasetWriter | None = None
        self.spec: DatasetSpec | None = None
        self.episode_id: int | None = None  # backend episode number being recorded
        self.closed_id: int | None = None  # backend episode already saved (late obs ignored)
        self.pending: Observation | None = None
        self.command: tuple[Command, float] | None = None  # (command, arrival monotonic)
        self.episode_info: dict[str, Any] = {}
        self.armed = not config.wait_for_info
        self.last_seen: int | None = None  # newest backend episode number seen
        self.saved = 0
        self.on(config.obs_topic, self._on_obs, Observation)
        self.on(config.command_topic, self._on_command, Command)
        if config.status_topic in config.inputs:
            self.on(config.status_topic, self._on_status, TaskStatus)

    def setup(self) -> None:
        backend = self.rpc_client(self.cfg.backend_rpc)
        try:
            features = backend.call("features", timeout=2.0, retries=5)
        finally:
            backend.close()
        self.spec = spec_from_features(features, self.cfg.robot_type)
        root = Path(self.cfg.root)
        resume = (root / "meta/info.json").exists()
        self.writer = DatasetWriter(root, None if resume else self.spec, resume=resume)
        self.log.info("recording to %s (%d episodes there)", root, self.writer.num_episodes)

    def teardown(self) -> None:
        if self.writer is not None and self.writer.recording:
            self.log.info("stopping mid-episode: the unfinished episode is discarded")
        if self.writer is not None:
            self.writer.close()

    def rpc_handlers(self) -> dict[str, Any]:
        return {
            **super().rpc_handlers(),
            "save": lambda p: {"episode": self._end(bool(p.get("success", False)))},
            "discard": lambda _: self._discard(),
            "episode_info": self._set_info,
            "status": lambda _: {
                "saved": self.saved,
                "recording": self._writer().recording,
                "counters": dict(self.counters),
            },  # fmt: skip
        }

    def _writer(self) -> DatasetWriter:
        if self.writer is None:
            raise RuntimeError("recorder not set up yet")
        return self.writer

    # ----- inputs -------------------------------------------------------------------------
    def _on_command(self, msg: Command) -> None:
        self.command = (msg, time.monotonic())

    def _on_obs(self, msg: Observation) -> None:
        self.last_seen = msg.episode
        if msg.episode == self.closed_id or not self.armed:
            return
        if msg.episode != self.episode_id:
            if self.episode_id is not None:
                self._end(success=False)
            self._start(msg)
        elif self.pending is not None:
            gap = round((msg.sim_time - self.pending.sim_time) * self.spec.fps) - 1
            if gap > 0:
                self._writer().note_dropped(gap)
                self.counters["dropped_frames"] += gap
            self._flush_pending()
        self.pending = msg

    def _on_status(self, msg: TaskStatus) -> None:
        if msg.state in ("succeeded", "failed") and self.episode_id is not None:
            self._end(success=msg.state == "succeeded")

    # ----- episodes -----------------------------------------------------------------------
    def _start(self, first: Observation) -> None:
        self.episode_id = first.episode
        late = round(first.sim_time * self.spec.fps)  # frames missed before the first one seen
        task = self.cfg.task or self.episode_info.get("task") or "record"
        self._writer().start_episode(task)
        if late > 0:
            self._writer().note_dropped(late)
            self.counters["dropped_frames"] += late
        self.log.info("episode %d: recording '%s'", first.episode, task)

    def _flush_pending(self) -> None:
        obs = self.pending
        assert obs is not None and self.spec is not None
        cmd = self.command
        if cmd is not None and time.monotonic() - cmd[1] <= self.cfg.command_timeout_s:
            action = action_vector(cmd[0].base_vel, cmd[0].arm, cmd[0].gripper)
        else:  # nothing in force: the backend stops the base and holds the arm
            action = action_vector(np.zeros(3), obs.arm, obs.gripper)
            self.counters["frames_without_command"] += 1
        self.pending = None
        if obs.wrist is None:  # the dataset declares both cameras: a frame without one is dropped
            self._writer().note_dropped(1)
            self.counters["dropped_frames"] += 1
            self.counters["frames_missing_wrist"] += 1
            return
        images = {"head": obs.head, "wrist": obs.wrist}
        state = state_vector(obs.base_pose, obs.arm, obs.gripper)
        self._writer().add_frame(state, action, images, obs.sim_time)
        self.counters["frames"] += 1

    def _end(self, success: bool) -> int:
        """Save the episode being recorded; returns its index (-1 if nothing was saved)."""
        writer = self._writer()
        if self.pending is not None:
            self._flush_pending()
        self.closed_id, self.episode_id = self.episode_id, None
        if not writer.recording:
            return -1
        if writer.frames < self.cfg.min_frames:
            writer.discard_episode()
            self.counters["episodes_too_short"] += 1
            return -1
        t0 = time.monotonic()
        info = self.episode_info
        ep = writer.save_episode(success=success, sim_task=info.get("sim_task", ""),
                                 seed=int(info.get("seed", -1)),
                                 task_args=json.dumps(info.get("task_args", {})))  # fmt: skip
        self.saved += 1
        self.counters["episodes"] += 1
        self.log.info("saved episode %d (%s) in %.2fs", ep, "success" if success else "no success",
                      time.monotonic() - t0)  # fmt: skip
        if self.cfg.episodes and self.saved >= self.cfg.episodes:
            self.log.info("recorded %d episode(s); stopping", self.saved)
            self.request_stop()
        return ep

    def _discard(self) -> dict[str, Any]:
        """Drop the episode being recorded (re-record); the next observation starts a new one."""
        self._writer().discard_episode()
        self.pending = None
        self.closed_id, self.episode_id = self.episode_id, None
        self.counters["discarded"] += 1
        return {"discarded": True}

    def _set_info(self, params: dict[str, Any]) -> dict[str, Any]:
        """Task text, sim task, seed and reset args of the episodes that follow (for replay).

        Sent before the backend resets: the episode running now is not recorded.
        """
        self.episode_info = dict(params)
        self.armed = True
        if self.episode_id is None:
            self.closed_id = self.last_seen
        return {"ok": True}


NODE = RecorderNode

if __name__ == "__main__":
    raise SystemExit(run_node(RecorderNode))
