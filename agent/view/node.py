"""The view node: subscribes to the graph's topics and logs them to rerun, one timeline per episode."""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Any

import numpy as np
import rerun as rr

from agent.runtime.bus import RpcError, RpcTimeout
from agent.runtime.messages import Command, Latent, Observation, SafetyEvent, Surprise, TaskStatus
from agent.runtime.node import Node, run_node
from agent.safety.config import CollisionConfig
from agent.safety.scene import StaticBox, load_boxes
from agent.safety.scene_sync import SceneFollower
from agent.view.config import LATEST_TOPICS, VIEW_TOPICS, ViewConfig
from agent.view.pca import LatentPCA

SEQ_MEMORY = 256  # observations whose (episode, sim_time) latents and surprise can still be placed by
MAX_PATH = 2000  # odometry points kept per episode; older halves are thinned when it is full
MAX_MARKERS = 500  # safety markers kept on the map per episode
LEVELS = {"pass": rr.TextLogLevel.INFO, "clamp": rr.TextLogLevel.WARN, "stop": rr.TextLogLevel.ERROR}


def timeline(episode: int) -> str:
    """The rerun timeline of one episode; its time is the backend's sim_time [s]."""
    return f"episode_{episode}"


class ViewNode(Node):
    """Logs cameras, state plots, a top-down map, the latent's PCA image, surprise and safety events."""

    config_cls = ViewConfig
    latest_topics = LATEST_TOPICS

    def __init__(self, config: ViewConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.rec: rr.RecordingStream | None = None
        self.episode: int | None = None  # of the newest observation
        self.sim_time = 0.0
        self.obs_times: OrderedDict[int, tuple[int, float]] = OrderedDict()  # obs seq -> (episode, sim_time)
        self.path: list[list[float]] = []  # odometry x, y of this episode
        self.markers: list[list[float]] = []  # where safety events happened this episode
        self.pca = LatentPCA(config.pca_fit, config.token_dim)
        self.boxes: dict[tuple[str, int], list[StaticBox]] = {}  # (scene, seed) -> static boxes
        self.follower = SceneFollower(self.rpc_client(config.backend_rpc)) if config.backend_rpc else None
        handlers = {
            Observation: self._on_obs,
            Latent: self._on_latent,
            Command: self._on_command,
            SafetyEvent: self._on_safety,
            Surprise: self._on_surprise,
            TaskStatus: self._on_status,
        }
        for topic in config.inputs:
            self.on(topic, handlers[VIEW_TOPICS[topic]], VIEW_TOPICS[topic])  # type: ignore[arg-type]
        if self.follower is not None:
            self.every(10.0, self._sync_scene)

    # ----- lifecycle ----------------------------------------------------------------------
    def setup(self) -> None:
        self.rec = rr.RecordingStream("amibot", recording_id=f"{self.cfg.name}-{os.getpid()}-{time.time_ns()}")
        sinks: list[Any] = []
        if self.cfg.save:
            os.makedirs(os.path.dirname(os.path.abspath(self.cfg.save)), exist_ok=True)
            sinks.append(rr.FileSink(self.cfg.save))
        serve = self.cfg.serve
        if self.cfg.spawn and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            self.rec.spawn(port=self.cfg.grpc_port, connect=False)
            sinks.append(rr.GrpcSink(f"rerun+http://127.0.0.1:{self.cfg.grpc_port}/proxy"))
        elif self.cfg.spawn:
            self.log.warning("no display for the viewer: serving the web viewer instead")
            serve = True
        if serve:
            server = rr.GrpcServerSink(bind_ip="127.0.0.1", port=self.cfg.grpc_port)
            sinks.append(server)
            rr.serve_web_viewer(web_port=self.cfg.web_port, open_browser=False, connect_to=server.uri)
            self.log.info("web viewer: http://127.0.0.1:%d/?url=%s", self.cfg.web_port, server.uri)
        self.rec.set_sinks(*sinks)
        self.rec.log("state/base_vel", rr.SeriesLines(names=["vx", "vy", "wz"]), static=True)
        self.rec.log("command/base_vel", rr.SeriesLines(names=["vx", "vy", "wz"]), static=True)
        if self.cfg.save:
            self.log.info("recording to %s", self.cfg.save)

    def teardown(self) -> None:
        if self.follower is not None:
            self.follower.close()
        if self.rec is not None:
            self.rec.flush(timeout_sec=2.0)
            self.rec.disconnect()
        self.log.info("view: %s", dict(self.counters))

    # ----- time ---------------------------------------------------------------------------
    def _at(self, episode: int, sim_time: float) -> rr.RecordingStream:
        """The recording with its time set to sim_time on the episode's timeline."""
        assert self.rec is not None  # setup() ran
        self.rec.reset_time()  # else the previous episode's timeline would stamp this row too
        self.rec.set_time(timeline(episode), duration=sim_time)
        return self.rec

    def _at_source(self, seq: int) -> rr.RecordingStream | None:
        """The recording at the time of observation `seq`; None (a gap, counted) when it is unknown."""
        found = self.obs_times.get(seq)
        if found is None:
            self.counters["unplaced"] += 1
            return None
        return self._at(*found)

    def _now(self) -> rr.RecordingStream | None:
        """The recording at the newest observation's time; None before the first observation."""
        return None if self.episode is None else self._at(self.episode, self.sim_time)

    # ----- handlers -----------------------------------------------------------------------
    def _on_obs(self, msg: Observation) -> None:
        if msg.episode != self.episode:
            self.episode, self.path, self.markers = msg.episode, [], []
            if self.follower is not None:
                self.follower.seen_episode = msg.episode
        self.sim_time = msg.sim_time
        self.obs_times[msg.seq] = (msg.episode, msg.sim_time)
        if len(self.obs_times) > SEQ_MEMORY:
            self.obs_times.popitem(last=False)
        rec = self._at(msg.episode, msg.sim_time)
        rec.log("camera/head", rr.Image(msg.head))
        if msg.wrist is not None:
            rec.log("camera/wrist", rr.Image(msg.wrist))
        if self.counters["obs"] == 0:
            rec.log("state/arm", rr.SeriesLines(names=[f"joint {i}" for i in range(len(msg.arm))]), static=True)
        rec.log("state/arm", rr.Scalars(msg.arm))
        rec.log("state/gripper", rr.Scalars(msg.gripper))
        rec.log("state/base_vel", rr.Scalars(msg.base_vel))
        x, y, yaw = msg.base_pose
        rec.log("map/robot", rr.Points2D([[x, y]], radii=0.15, colors=[[30, 144, 255]]))
        rec.log("map/heading", rr.Arrows2D(origins=[[x, y]], vectors=[[0.4 * np.cos(yaw), 0.4 * np.sin(yaw)]]))
        self.path.append([x, y])
        if len(self.path) >= MAX_PATH:
            self.path = self.path[: MAX_PATH // 2 : 2] + self.path[MAX_PATH // 2 :]
        if len(self.path) % self.cfg.path_every == 1:
            rec.log("map/path", rr.LineStrips2D([self.path], colors=[[30, 144, 255]], radii=0.03))
        self.counters["obs"] += 1

    def _on_latent(self, msg: Latent) -> None:
        rec = self._at_source(msg.source_seq)
        if rec is None:
            return
        rec.log("perception/latency_ms", rr.Scalars((msg.stamp_mono - msg.source_mono) * 1e3))
        try:
            image = self.pca.image(msg.z)
        except ValueError as exc:
            self.counters["latent.bad_shape"] += 1
            if self.counters["latent.bad_shape"] <= 3:
                self.log.warning("latent not shown (#%d): %s", self.counters["latent.bad_shape"], exc)
            return
        if image is not None:
            rec.log("perception/pca", rr.Image(image))
            self.counters["latent"] += 1

    def _on_command(self, msg: Command) -> None:
        rec = self._now()
        if rec is not None:
            rec.log("command/base_vel", rr.Scalars(msg.base_vel))

    def _on_surprise(self, msg: Surprise) -> None:
        rec = self._at_source(msg.source_seq)
        if rec is not None:
            rec.log("world_model/surprise", rr.Scalars(msg.value))
            rec.log("world_model/threshold", rr.Scalars(msg.threshold))

    def _on_safety(self, msg: SafetyEvent) -> None:
        rec = self._now() if self.episode is not None else self.rec  # before any observation: wall time only
        assert rec is not None  # setup() ran
        text = f"{msg.action} by {msg.rule}: {msg.reason}" + (f" ({msg.detail})" if msg.detail else "")
        rec.log("safety/events", rr.TextLog(text, level=LEVELS.get(msg.action, rr.TextLogLevel.CRITICAL)))
        rec.log("safety/estop", rr.Scalars(float(msg.action == "estop")))
        if self.path and len(self.markers) < MAX_MARKERS:
            self.markers.append(self.path[-1])
            rec.log("map/safety", rr.Points2D(self.markers, radii=0.1, colors=[[220, 40, 40]]))
        self.counters["safety_events"] += 1

    def _on_status(self, msg: TaskStatus) -> None:
        rec = self._now()
        if rec is not None:
            rec.log("task/status", rr.TextLog(f"{msg.task}: {msg.state} after {msg.steps} steps {msg.message}"))

    # ----- the static scene on the map ----------------------------------------------------
    def _sync_scene(self) -> None:
        """Ask the backend which apartment the current episode is in and draw its boxes on the map."""
        f = self.follower
        if f is None or not f.due(time.monotonic()):
            return
        try:
            got = f.query(time.monotonic())
            key = (got.scene, got.seed)
            if key not in self.boxes:
                self.boxes[key] = load_boxes(CollisionConfig(scene=got.scene, seed=got.seed))
        except (RpcTimeout, RpcError, KeyError, ValueError, OSError) as exc:
            self.counters["scene.errors"] += 1
            if self.counters["scene.errors"] <= 3 or self.counters["scene.errors"] % 100 == 0:
                self.log.warning("scene of the backend unknown (#%d): %s", self.counters["scene.errors"], exc)
            return
        f.known_episode = got.episode
        boxes = self.boxes[key]
        if not boxes:
            return
        lo = np.array([b.lower[:2] for b in boxes])
        hi = np.array([b.upper[:2] for b in boxes])
        self._at(got.episode, 0.0).log(
            "map/boxes",
            rr.Boxes2D(mins=lo, sizes=hi - lo, labels=[b.name for b in boxes], colors=[_colour(b.kind) for b in boxes]),
        )
        self.counters["scene"] += 1


def _colour(kind: str) -> list[int]:
    """Walls grey, furniture a stable colour per kind."""
    if kind == "wall":
        return [120, 120, 120]
    h = sum(kind.encode()) * 47 % 360
    return [int(127 + 100 * np.cos(np.radians(h + a))) for a in (0, 120, 240)]


NODE = ViewNode

if __name__ == "__main__":
    raise SystemExit(run_node(ViewNode))
