"""The safety node: the only source of cmd.safe. Fail-closed: any doubt or error gives a stop."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from agent.robot.config import load_robot_config
from agent.runtime.bus import RpcError, RpcTimeout
from agent.runtime.config import ConfigError
from agent.runtime.messages import Command, Observation, SafetyEvent, Surprise
from agent.runtime.node import Node, run_node
from agent.safety.config import SafetyConfig
from agent.safety.constraints import Intervention
from agent.safety.envelope import EnvelopeRules
from agent.safety.estop import EstopLatch
from agent.safety.geometry import RobotGeometry
from agent.safety.monitor import Decision, Monitor
from agent.safety.scene import footprints, keepout_zones, load_boxes
from agent.safety.scene_sync import SceneFollower
from agent.safety.watchdog import PeerSeen, faults


class SafetyNode(Node):
    """Checks every proposed command against the robot's limits and the watchdog; publishes cmd.safe."""

    config_cls = SafetyConfig
    latest_topics = frozenset({"obs"})

    def __init__(self, config: SafetyConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.latch = EstopLatch(config.estop_file)
        self.monitor = Monitor(config, None)
        self.geometry: RobotGeometry | None = None
        self.scene = ("", 0)  # (scene, seed) the static geometry is built from
        self.follower = SceneFollower(self.rpc_client(config.backend_rpc)) if config.backend_rpc else None
        self.event_log: IO[str] | None = None
        self.last_accepted: float | None = None
        self.last_obs: float | None = None
        self.last_obs_seq = -1  # seq of the newest observation; it only grows while the backend lives
        self.surprise_until = 0.0
        self.fault_reasons: frozenset[str] = frozenset()
        self.on(config.proposed_topic, self._on_proposed, Command)
        self.on(config.obs_topic, self._on_obs, Observation)
        if config.surprise_topic in config.inputs:
            self.on(config.surprise_topic, self._on_surprise, Surprise)
        self.every(config.control_hz, self._tick)

    # ----- lifecycle ----------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        robot = load_robot_config(cfg.collision.robot)
        if robot.n_arm != len(cfg.arm.lower):
            raise ValueError(f"robot '{robot.name}' has {robot.n_arm} arm joints, safety config {len(cfg.arm.lower)}")
        self.geometry = RobotGeometry(robot, [], cfg.collision.self_min_distance)
        self._build_scene(cfg.collision.scene, cfg.collision.seed)
        self._sync_scene(time.monotonic())
        if cfg.event_log:
            Path(cfg.event_log).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.event_log = Path(cfg.event_log).expanduser().open("a")
        state = self.latch.poll()
        if state.tripped:
            self.log.warning(
                "e-stop is latched (%s); reset with `amibot estop --reset --reason ...`",
                state.reason,
            )
        elif state.resume_needed:
            self.log.warning("e-stop was reset (%s); motion waits for `amibot resume` or a new episode", state.reason)

    def teardown(self) -> None:
        if self.geometry is not None:
            self.geometry.close()
        if self.follower is not None:
            self.follower.close()
        if self.event_log is not None:
            self.event_log.close()

    def rpc_handlers(self) -> dict[str, Any]:
        return {
            **super().rpc_handlers(),
            "estop": lambda p: self._set_estop(True, str(p.get("reason", "rpc"))),
            "estop_reset": lambda p: self._set_estop(False, str(p.get("reason", ""))),
            "estop_status": lambda _: self._estop_dict(),
            "resume": lambda p: self._resume(str(p.get("reason", "rpc resume"))),
        }

    def stats(self) -> dict[str, Any]:
        return {
            **super().stats(),
            "estop": self._estop_dict(),
            "faults": sorted(self.fault_reasons),
            "scene": self._scene_dict(),
        }

    # ----- static scene -------------------------------------------------------------------
    def _scene_dict(self) -> dict[str, Any]:
        f = self.follower
        return {
            "scene": self.scene[0],
            "seed": self.scene[1],
            "episode": f.known_episode if f else None,
            "known": f.known if f else True,
        }

    def _build_scene(self, scene: str, seed: int) -> None:
        """Static geometry of (scene, seed) for the collision, keep-out and separation rules."""
        assert self.geometry is not None
        cfg = self.cfg
        boxes = load_boxes(replace(cfg.collision, scene=scene, seed=seed))
        self.geometry.set_boxes(boxes)
        envelope = EnvelopeRules(self.geometry, cfg, keepout_zones(cfg.workspace, boxes))
        self.monitor.set_scene(envelope, footprints([b for b in boxes if b.lower[2] < 0.3]))
        self.scene = (scene, seed)

    def _sync_scene(self, now: float) -> None:
        """Ask the backend which scene the current episode uses; rebuild the geometry if it changed.

        Failures leave the scene unknown (every command stops) and are retried.
        """
        f = self.follower
        if f is None or not f.due(now):
            return
        try:
            got = f.query(now)
            if (got.scene, got.seed) != self.scene:
                self._build_scene(got.scene, got.seed)
                self.counters["scene.rebuilds"] += 1
                self.log.info("static scene rebuilt: %s seed %d (episode %d)", got.scene, got.seed, got.episode)
        except (RpcError, RpcTimeout, KeyError, TypeError, ValueError, ConfigError, OSError) as exc:
            self.counters["scene.errors"] += 1
            if self.counters["scene.errors"] <= 3 or self.counters["scene.errors"] % 100 == 0:
                self.log.warning("scene of the backend unknown (#%d): %s", self.counters["scene.errors"], exc)
            return
        f.known_episode = got.episode

    # ----- e-stop -------------------------------------------------------------------------
    def _estop_dict(self) -> dict[str, Any]:
        s = self.latch.state
        return {
            "tripped": s.tripped,
            "resume_needed": s.resume_needed,
            "reason": s.reason,
            "changed_wall": s.changed_wall,
            "file": str(self.latch.path),
        }

    def _set_estop(self, tripped: bool, reason: str) -> dict[str, Any]:
        if not tripped and not reason:
            raise ValueError("an e-stop reset needs a reason")
        self.latch.write(tripped, reason)
        self.monitor.hold(time.monotonic())
        self.log.warning("e-stop %s: %s", "TRIPPED" if tripped else "reset", reason)
        if tripped:
            self._tick()
        return self._estop_dict()

    def _resume(self, reason: str) -> dict[str, Any]:
        """The explicit start after an e-stop reset; refused (EstopTripped) while tripped."""
        self.latch.resume(reason)
        self.monitor.hold(time.monotonic())  # only commands issued after the resume move the robot
        self.log.warning("motion resumed: %s", reason)
        return self._estop_dict()

    # ----- inputs -------------------------------------------------------------------------
    def _on_obs(self, msg: Observation) -> None:
        self.counters["in.obs"] += 1
        prev = self.monitor.obs
        if prev is not None and msg.episode != prev.episode and msg.seq > self.last_obs_seq:
            self._new_episode(msg.episode)
        self.monitor.on_obs(msg)
        self.last_obs = time.monotonic()
        f = self.follower
        if f is not None and (msg.episode != f.seen_episode or msg.seq <= self.last_obs_seq):
            if msg.seq <= self.last_obs_seq:  # a restarted backend: its episode numbers start over
                f.known_episode = None
                self.counters["scene.backend_restarts"] += 1
            f.seen_episode = msg.episode
            f.next_query = 0.0
            self._sync_scene(self.last_obs)
        self.last_obs_seq = msg.seq

    def _new_episode(self, episode: int) -> None:
        """A new task (the backend was reset, not restarted) is an explicit start after an e-stop reset."""
        state = self.latch.poll()
        if state.resume_needed and not state.tripped:
            self._resume(f"new episode {episode}")

    def _on_surprise(self, msg: Surprise) -> None:
        self.counters["in.surprise"] += 1
        if msg.value > msg.threshold:
            self.surprise_until = time.monotonic() + self.cfg.watchdog.surprise_hold_s

    def _faults(self, now: float, last_command: float | None) -> list[Intervention]:
        latch = self.latch.poll()
        required = self.cfg.watchdog.require_peers
        peers = {n: PeerSeen(hb.health, hb.ready, rx) for n, (hb, rx) in self.peers.items() if n in required}
        found = faults(
            now,
            self.cfg.watchdog,
            last_command=last_command,
            last_obs=self.last_obs,
            peers=peers,
            surprise_until=self.surprise_until,
            estop=latch.reason or "tripped" if latch.tripped else None,
        )
        if latch.resume_needed and not latch.tripped:
            why = "e-stop reset: waiting for `amibot resume` or a new episode"
            found.append(Intervention("estop", "stop", "resume_needed", why))
        if self.follower is not None and not self.follower.known:
            found.append(Intervention("scene", "stop", "scene_unknown", f"episode {self.follower.seen_episode}"))
        if any(f.reason != "no_command" for f in found):
            self.monitor.hold(now)  # motion resumes only on commands issued after every fault cleared
        return found

    def _on_proposed(self, msg: Command) -> None:
        self.counters["proposed"] += 1
        now = time.monotonic()
        decision = self._decide(lambda: self.monitor.propose(msg, now, self._faults(now, now)), now)
        if decision.command is not None and not decision.stopped:
            self.last_accepted = now
        self._emit(decision, msg.seq, msg.source)

    def _tick(self) -> None:
        now = time.monotonic()
        self._sync_scene(now)
        decision = self._decide(lambda: self._tick_decision(now), now)
        reasons = frozenset(e.reason for e in decision.events)
        if reasons != self.fault_reasons:  # announce fault changes once, not every period
            self._emit_events(decision.events, 0, "watchdog")
            self.fault_reasons = reasons
        self.health = "degraded" if reasons else "ok"
        if decision.command is not None:
            self.publish(self.cfg.output_topic, decision.command)
            self.counters["stop_ticks"] += 1

    def _tick_decision(self, now: float) -> Decision:
        found = self._faults(now, self.last_accepted)
        return self.monitor.stop(now, found) if found else Decision(None)

    def _decide(self, fn: Any, now: float) -> Decision:
        """Run a decision; any exception becomes a stop (and if even that fails, silence: the deadman)."""
        try:
            return fn()
        except Exception as exc:
            self.counters["internal_error"] += 1
            self.log.exception("safety check failed; stopping")
            event = Intervention("internal", "stop", "internal_error", f"{type(exc).__name__}: {exc}")
            try:
                return self.monitor.stop(now, [event])
            except Exception:
                self.counters["internal_error_in_stop"] += 1
                self.log.exception("controlled stop failed too; sending nothing (backend deadman)")
                return Decision(None, [event], stopped=True)

    # ----- outputs ------------------------------------------------------------------------
    def _emit(self, decision: Decision, seq: int, source: str) -> None:
        if decision.command is not None:
            self.publish(self.cfg.output_topic, decision.command)
            self.counters["stopped" if decision.stopped else "passed"] += 1
        else:
            self.counters["silent"] += 1
        self._emit_events(decision.events, seq, source)

    def _emit_events(self, events: list[Intervention], seq: int, source: str) -> None:
        for e in events:
            self.counters[f"{e.action}.{e.reason}"] += 1
            self.publish(
                self.cfg.events_topic,
                SafetyEvent(
                    rule=e.rule,
                    action=e.action,
                    reason=e.reason,
                    detail=e.detail[:500],
                    cmd_seq=seq,
                ),
            )
            if self.event_log is not None:
                row = {
                    "wall": time.time(),
                    "mono": time.monotonic(),
                    "rule": e.rule,
                    "action": e.action,
                    "reason": e.reason,
                    "detail": e.detail,
                    "cmd_seq": seq,
                    "source": source,
                }
                self.event_log.write(json.dumps(row) + "\n")
        if events and self.event_log is not None:
            self.event_log.flush()


NODE = SafetyNode

if __name__ == "__main__":
    raise SystemExit(run_node(SafetyNode))
