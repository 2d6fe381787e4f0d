"""The safety decision function: a proposed command plus robot state in, a safe command and reasons out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agent.runtime.messages import Command, Observation
from agent.safety import constraints as rules
from agent.safety.config import SafetyConfig
from agent.safety.constraints import Intervention
from agent.safety.envelope import next_pose
from agent.safety.scene import clearance

# (pose now, arm now, pose next, arm next, gripper) -> stops
Envelope = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float], list[Intervention]]
CLOCK_SKEW_S = 0.05  # a command stamped further in the future than this is refused


@dataclass
class Decision:
    """What to send (None: nothing can be sent, the backend's deadman takes over) and why."""

    command: Command | None
    events: list[Intervention] = field(default_factory=list)
    stopped: bool = False


class Monitor:
    """Holds the last safe output and robot state; every output respects the limits or is a stop."""

    def __init__(
        self,
        cfg: SafetyConfig,
        envelope: Envelope | None,
        footprints: tuple[np.ndarray, np.ndarray] = (np.zeros((0, 2)), np.zeros((0, 2))),
    ) -> None:
        self.cfg = cfg
        self.envelope = envelope
        self.foot_lo, self.foot_hi = footprints
        self.n_arm = len(cfg.arm.lower)
        self.obs: Observation | None = None
        self.base = np.zeros(3)  # last output base velocity
        self.q: np.ndarray | None = None  # last output arm targets
        self.v = np.zeros(self.n_arm)  # their velocity
        self.gripper: float | None = None
        # The output in force at the backend's last control tick: rate limits count from it. Each new
        # observation is one backend tick, and the backend applies only its newest command per tick, so
        # two commands within one tick are each limited from here, never one from the other (a proposer
        # faster than the control rate would otherwise multiply every rate limit).
        self.ref_q: np.ndarray | None = None
        self.ref_v = np.zeros(self.n_arm)
        self.ref_base = np.zeros(3)
        self.last_seq: dict[str, int] = {}
        self.motion_ok_after = 0.0  # only commands stamped after this may move the robot

    def set_scene(self, envelope: Envelope, footprints: tuple[np.ndarray, np.ndarray]) -> None:
        """Use another static scene's geometric rules and obstacle footprints (a backend reset)."""
        self.envelope = envelope
        self.foot_lo, self.foot_hi = footprints

    def on_obs(self, obs: Observation) -> None:
        if obs.arm.shape != (self.n_arm,):
            raise ValueError(f"observation has {obs.arm.shape[0]} joints, config has {self.n_arm}")
        new_episode = self.obs is not None and obs.episode != self.obs.episode
        self.obs = obs
        if self.q is None or new_episode:
            # Rate limits count from where the arm is: after a reset (the backend may have moved the
            # robot) ramping from the last episode's targets would itself be a jump. Not clipped to the
            # limits: a joint resting outside them is held there, moved back only by a command.
            self.q = np.array(obs.arm, dtype=float)
            self.v = np.zeros(self.n_arm)
        if new_episode:
            self.base = np.zeros(3)  # a reset leaves the base at rest
        self._tick()

    def _tick(self) -> None:
        """The outputs so far are what the backend applies now: later commands are limited from them."""
        self.ref_q, self.ref_v, self.ref_base = self.q, self.v, self.base

    def hold(self, now: float) -> None:
        """Motion may only resume with a command stamped after now (e-stop reset, fault cleared)."""
        self.motion_ok_after = max(self.motion_ok_after, now)

    def stop(self, now: float, events: list[Intervention]) -> Decision:
        """A controlled stop: base and arm targets decelerate at their max_acc to rest, gripper holds.

        Each stop brakes one period from the last output, so a stop that a jittery timer sends twice
        within one backend tick only brakes sooner; passes still count from the tick's reference."""
        if self.obs is None or self.q is None:
            return Decision(None, events, stopped=True)
        cfg = self.cfg
        # Brake from what the base does, not from what was last asked: a base still accelerating
        # towards the last command would otherwise be commanded faster than it moves (speed up to stop).
        # The measured velocity (robot frame, like the command), capped by the commanded one so that a
        # stop never asks for more than either, steps to zero at max_acc per period.
        measured = np.asarray(self.obs.base_vel, dtype=float)
        start = np.clip(measured, -np.abs(self.base), np.abs(self.base))
        self.base = rules.brake_base(start, cfg.base, cfg.dt)
        # The arm's targets decelerate from the last ones (never from an observation: a joint outside
        # the limits, or a glitched reading, must not become a target the arm jumps to during a stop).
        q = rules.brake_arm(self.q, self.v, cfg.arm, cfg.dt)
        self.q, self.v = q, (q - self.q) / cfg.dt
        grip = self.gripper if self.gripper is not None else float(self.obs.gripper)
        self.gripper = min(max(grip, cfg.gripper_lower), cfg.gripper_upper)
        cmd = Command(
            base_vel=self.base.copy(),
            arm=self.q.copy(),
            gripper=self.gripper,
            valid_until=now + self.cfg.command_ttl_s,
            source=self.cfg.name,
            episode=self.obs.episode,
        )
        return Decision(cmd, events, stopped=True)

    def refusal(self, cmd: Command, now: float) -> Intervention | None:
        """Why a proposed command may not move the robot at all, or None."""
        wd = self.cfg.watchdog
        if self.cfg.accept_sources and cmd.source not in self.cfg.accept_sources:
            return Intervention("input", "stop", "bad_source", repr(cmd.source))
        if cmd.arm.shape != (self.n_arm,):
            return Intervention("input", "stop", "bad_shape", f"{cmd.arm.shape[0]} arm targets, need {self.n_arm}")
        if not (rules.finite(cmd.stamp_mono) and rules.finite(cmd.valid_until)):
            return Intervention("input", "stop", "bad_stamp", "non-finite stamp")
        if cmd.valid_until < now:
            return Intervention("input", "stop", "expired", f"{now - cmd.valid_until:.3f} s past valid_until")
        if now - cmd.stamp_mono > wd.cmd_max_age_s:
            return Intervention("input", "stop", "stale_command", f"{now - cmd.stamp_mono:.3f} s old")
        if cmd.stamp_mono > now + CLOCK_SKEW_S:
            return Intervention("input", "stop", "future_stamp", f"{cmd.stamp_mono - now:.3f} s ahead")
        if cmd.seq <= self.last_seq.get(cmd.source, -1):
            return Intervention("input", "stop", "out_of_order", f"seq {cmd.seq} after {self.last_seq[cmd.source]}")
        if cmd.stamp_mono <= self.motion_ok_after:
            return Intervention("input", "stop", "before_reset", "issued before the last stop cleared")
        if self.obs is None or self.q is None:
            return Intervention("input", "stop", "no_state", "no robot state yet")
        return None

    def propose(self, cmd: Command, now: float, faults: list[Intervention]) -> Decision:
        """The safe version of a proposed command, or a stop."""
        if faults:
            return self.stop(now, faults)
        why = self.refusal(cmd, now)
        if why is not None:
            return self.stop(now, [why])
        self.last_seq[cmd.source] = cmd.seq
        assert self.obs is not None and self.ref_q is not None
        cfg, dt = self.cfg, self.cfg.dt
        events: list[Intervention] = []
        grip, ev = rules.clamp_gripper(cmd.gripper, cfg.gripper_lower, cfg.gripper_upper)
        events += ev
        q, ev = rules.limit_arm(np.asarray(cmd.arm, dtype=float), self.ref_q, self.ref_v, cfg.arm, dt)
        events += ev
        base, ev = rules.limit_base(np.asarray(cmd.base_vel, dtype=float), self.ref_base, cfg.base, dt)
        events += ev
        pose = np.asarray(self.obs.base_pose, dtype=float)
        dist, direction = clearance(pose, self.foot_lo, self.foot_hi, cfg.base.radius)
        base, ev = rules.limit_separation(base, dist, direction, [], cfg.separation, cfg.base)
        events += ev
        if any(e.action != "clamp" for e in events):
            return self.stop(now, events)
        if self.envelope is not None:
            stops = self.envelope(pose, np.asarray(self.obs.arm, dtype=float), next_pose(pose, base, dt), q, grip)
            if stops:
                return self.stop(now, events + stops)
        if not (rules.finite(base) and rules.finite(q) and rules.finite(grip)):
            return self.stop(
                now,
                events + [Intervention("internal", "stop", "internal_error", "non-finite output")],
            )
        self.v, self.q, self.base, self.gripper = (q - self.ref_q) / dt, q, base, grip
        out = Command(
            base_vel=base.copy(),
            arm=q.copy(),
            gripper=grip,
            source=cfg.name,
            valid_until=min(cmd.valid_until, now + cfg.command_ttl_s),
            episode=self.obs.episode,  # checked against this episode's state; another episode's backend refuses it
        )
        return Decision(out, events)
