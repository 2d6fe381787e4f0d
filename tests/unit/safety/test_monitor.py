"""Property tests of the decision function: any command sequence gives limit-respecting output or a stop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.runtime.messages import Command, Observation
from agent.safety.constraints import Intervention
from agent.safety.monitor import Monitor
from tests.unit.safety.conftest import load

CFG = load("collision.scene=", "accept_sources=[planner, teleop]")
LO = np.array(CFG.arm.lower) + CFG.arm.margin
HI = np.array(CFG.arm.upper) - CFG.arm.margin
wild = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-4, 4), st.just(1e300))


def envelope(
    pose: np.ndarray, arm: np.ndarray, pose_next: np.ndarray, arm_next: np.ndarray, grip: float
) -> list[Intervention]:
    """A stand-in geometric rule: the tool may not go where joint 0 > 1 rad."""
    return [Intervention("keepout", "stop", "ee_keepout", "test zone")] if arm_next[0] > 1.0 else []


def obs(arm: list[float], pose: list[float], vel: list[float] | None = None) -> Observation:
    return Observation(
        head=np.zeros((8, 8, 3), np.uint8),
        base_pose=np.array(pose),
        base_vel=np.zeros(3) if vel is None else np.array(vel),
        arm=np.array(arm),
        arm_vel=np.zeros(5),
        gripper=0.5,
    )


step = st.one_of(
    st.tuples(
        st.just("obs"),
        st.lists(st.floats(-2, 2), min_size=5, max_size=5),
        st.lists(st.floats(-5, 5), min_size=3, max_size=3),
        st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3),  # measured base velocity
    ),
    st.tuples(
        st.just("cmd"),
        st.lists(wild, min_size=3, max_size=3),  # base
        st.lists(wild, min_size=4, max_size=6),  # arm (sometimes the wrong size)
        wild,  # gripper
        st.integers(0, 30),  # seq (replays and out-of-order included)
        st.one_of(st.floats(-0.2, 0.3), st.just(float("nan"))),  # age of its stamp [s]
        st.floats(-0.5, 1.0),  # valid for
        st.sampled_from(["planner", "teleop", "intruder"]),
        st.booleans(),  # a watchdog fault is active
    ),
)


@settings(max_examples=250, deadline=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_outputs_never_violate_limits_and_stop_when_they_should(steps: list) -> None:
    mon = Monitor(CFG, envelope)
    # prev_*: the last output; ref_*: the output in force at the last observation (backend tick), from
    # which every rate limit counts (several commands within one tick are each limited from it)
    now, prev_base, prev_q, prev_v = 1000.0, np.zeros(3), None, np.zeros(5)
    ref_base, ref_q, ref_v = prev_base, prev_q, prev_v
    seen_seq: dict[str, int] = {}
    last_obs: Observation | None = None
    for s in steps:
        now += 0.05
        if s[0] == "obs":
            last_obs = obs(s[1], s[2], s[3])
            mon.on_obs(last_obs)
            prev_q = mon.q.copy() if prev_q is None else prev_q
            ref_base, ref_q, ref_v = prev_base, prev_q, prev_v
            continue
        _, base, arm, grip, seq, age, ttl, source, fault = s
        cmd = Command(
            base_vel=np.array(base),
            arm=np.array(arm),
            gripper=grip,
            valid_until=now + ttl,
            source=source,
            seq=seq,
            stamp_mono=now - age,
        )
        faults = [Intervention("watchdog.heartbeat", "stop", "heartbeat_missing", "x")] if fault else []
        d = mon.propose(cmd, now, faults)
        must_stop = (
            fault
            or last_obs is None
            or source == "intruder"
            or len(arm) != 5
            or not np.isfinite(age)
            or now + ttl < now  # valid_until as the command carries it (a tiny ttl rounds away)
            or age > CFG.watchdog.cmd_max_age_s
            or age < -0.05
            or seq <= seen_seq.get(source, -1)
        )
        if must_stop:
            assert d.stopped and d.events
        if d.command is None:
            assert last_obs is None
            continue
        out = d.command
        assert out.source == CFG.name and out.valid_until <= now + CFG.command_ttl_s + 1e-9
        assert np.all(np.isfinite(out.base_vel)) and np.all(np.isfinite(out.arm)) and np.isfinite(out.gripper)
        assert np.all(np.abs(out.base_vel) <= np.array(CFG.base.max_vel) + 1e-9)
        assert CFG.gripper_lower <= out.gripper <= CFG.gripper_upper
        if d.stopped:  # controlled stop: base slows down from what it does, arm targets decelerate
            assert last_obs is not None
            measured = last_obs.base_vel
            start = np.minimum(np.abs(prev_base), np.abs(measured))
            assert np.all(np.abs(out.base_vel) <= start + 1e-12), "a stop asked for more than measured or commanded"
            assert np.all(out.base_vel * measured >= 0), "a stop reversed the measured motion"
            assert np.all(np.abs(out.base_vel) >= start - np.array(CFG.base.max_acc) * CFG.dt - 1e-9)
            v = (out.arm - prev_q) / CFG.dt
            slower = np.maximum(np.abs(prev_v) - np.array(CFG.arm.max_acc) * CFG.dt, 0)
            assert np.all(np.abs(v) <= slower + 1e-6) and np.all(v * prev_v >= -1e-9), "arm did not decelerate"
            prev_v = v
        else:
            seen_seq[source] = seq
            assert np.all(np.abs(out.base_vel - ref_base) <= np.array(CFG.base.max_acc) * CFG.dt + 1e-9)
            v = (out.arm - ref_q) / CFG.dt
            assert np.all(np.abs(v) <= np.array(CFG.arm.max_vel) + 1e-6)
            assert np.all(np.abs(v - ref_v) <= np.array(CFG.arm.max_acc) * CFG.dt + 1e-6)
            assert np.all((out.arm <= np.maximum(HI, ref_q) + 1e-9) & (out.arm >= np.minimum(LO, ref_q) - 1e-9))
            assert out.arm[0] <= 1.0  # the geometric rule held
            prev_v = v
        prev_base, prev_q = out.base_vel.copy(), out.arm.copy()


def test_reset_needs_a_command_issued_after_it() -> None:
    mon = Monitor(CFG, None)
    mon.on_obs(obs([0.0] * 5, [0, 0, 0]))
    cmd = Command(
        base_vel=np.array([0.1, 0, 0]),
        arm=np.zeros(5),
        gripper=0.5,
        valid_until=11.0,
        source="planner",
        seq=1,
        stamp_mono=9.99,
    )
    mon.hold(10.0)  # e.g. the e-stop was reset at t = 10
    d = mon.propose(cmd, 10.01, [])
    assert d.stopped and d.events[0].reason == "before_reset"
    fresh = Command(
        base_vel=np.array([0.1, 0, 0]),
        arm=np.zeros(5),
        gripper=0.5,
        valid_until=11.0,
        source="planner",
        seq=2,
        stamp_mono=10.005,
    )
    assert not mon.propose(fresh, 10.01, []).stopped


def test_outputs_are_bound_to_the_episode_they_were_checked_in() -> None:
    mon = Monitor(CFG, None)
    state = obs([0.0] * 5, [0, 0, 0])
    state.episode = 3
    mon.on_obs(state)
    cmd = Command(base_vel=np.array([0.1, 0, 0]), arm=np.zeros(5), gripper=0.5, valid_until=11.0,
                  source="planner", seq=1, stamp_mono=10.0)  # fmt: skip
    passed = mon.propose(cmd, 10.01, [])
    stopped = mon.stop(10.02, [Intervention("input", "stop", "test")])
    assert not passed.stopped and passed.command is not None and passed.command.episode == 3
    assert stopped.command is not None and stopped.command.episode == 3


def test_a_new_episode_restarts_the_rate_limits_from_the_observed_arm() -> None:
    mon = Monitor(CFG, None)
    first = obs([0.0] * 5, [0, 0, 0])
    first.episode = 1
    mon.on_obs(first)
    reset = obs([0.0, -0.2, 1.5, 1.5, 0.0], [3, 1, 0])  # the backend reset: the arm is elsewhere now
    reset.episode = 2
    mon.on_obs(reset)
    cmd = Command(base_vel=np.zeros(3), arm=reset.arm.copy(), gripper=0.5, valid_until=11.0,
                  source="planner", seq=1, stamp_mono=10.0)  # fmt: skip
    out = mon.propose(cmd, 10.01, [])
    assert out.command is not None and not out.stopped
    # holding the observed pose is no motion at all, so nothing is clamped and the target is that pose
    assert np.allclose(out.command.arm, reset.arm) and not out.events, out.events


def test_a_stop_brakes_from_the_measured_base_speed_not_the_last_command() -> None:
    """The base lags the commanded 0.4 m/s (measured 0.24): the stop never asks for more than it does."""
    mon = Monitor(CFG, None)
    mon.on_obs(obs([0.0] * 5, [0, 0, 0]))
    for seq in range(1, 8):  # ramp the command up to 0.4 m/s at max_acc, one backend tick per command
        now = 10.0 + 0.1 * seq
        mon.on_obs(obs([0.0] * 5, [0, 0, 0], [mon.base[0], 0, 0]))
        cmd = Command(base_vel=np.array([0.4, 0, 0]), arm=np.zeros(5), gripper=0.5, valid_until=now + 0.2,
                      source="planner", seq=seq, stamp_mono=now)  # fmt: skip
        assert not mon.propose(cmd, now, []).stopped
    assert mon.base[0] == 0.4
    a_dt = CFG.base.max_acc[0] * CFG.dt
    measured, now = 0.24, 11.0
    while measured > 0:  # the base decelerates at its own pace; every stop command stays below it
        mon.on_obs(obs([0.0] * 5, [0, 0, 0], [measured, 0, 0]))
        out = mon.stop(now, [Intervention("watchdog", "stop", "no_command", "test")]).command
        assert out is not None and 0 <= out.base_vel[0] <= max(measured - a_dt, 0) + 1e-12, (measured, out.base_vel)
        measured, now = max(measured - 0.5 * a_dt, 0.0), now + 0.1
    mon.on_obs(obs([0.0] * 5, [0, 0, 0], [0.5, 0, 0]))  # measured faster than ever commanded: brake from the command
    out = mon.stop(now, [Intervention("watchdog", "stop", "no_command", "test")]).command
    assert out is not None and out.base_vel[0] == 0.0


def test_commands_faster_than_the_control_rate_do_not_multiply_the_rate_limits() -> None:
    """The backend applies the newest command once per tick: three commands within one tick may not
    each add max_acc * dt to the last (a 30 Hz teleop against a 10 Hz robot tripled the acceleration)."""
    mon = Monitor(CFG, None)
    now, seq = 10.0, 0
    for _tick in range(3):
        mon.on_obs(obs([0.0] * 5, [0, 0, 0], [mon.base[0], 0, 0]))
        before = mon.base[0]
        for _ in range(3):
            now, seq = now + 0.01, seq + 1
            cmd = Command(base_vel=np.array([0.4, 0, 0]), arm=np.full(5, 0.5), gripper=0.5, valid_until=now + 0.2,
                          source="planner", seq=seq, stamp_mono=now)  # fmt: skip
            out = mon.propose(cmd, now, []).command
            assert out is not None
        a_dt = CFG.base.max_acc[0] * CFG.dt
        assert out.base_vel[0] <= before + a_dt + 1e-12, (before, out.base_vel[0])
        assert np.all(np.abs(out.arm - mon.ref_q) <= np.array(CFG.arm.max_vel) * CFG.dt + 1e-9)


def test_a_stop_never_moves_the_arm_to_an_observation() -> None:
    """A joint resting outside the limits, or one glitched reading during an e-stop, is no arm target."""
    mon = Monitor(CFG, None)
    outside = [CFG.arm.lower[0] - 0.1, 0.0, 0.0, 0.0, 0.0]
    mon.on_obs(obs(outside, [0, 0, 0]))
    stop = [Intervention("estop", "stop", "estop", "test")]
    held = mon.stop(10.0, stop).command
    assert held is not None and np.allclose(held.arm, outside), "a stop pulled a joint into its limits"
    mon.on_obs(obs([0.0] * 5, [0, 0, 0]))  # a glitched reading (the arm did not really jump)
    again = mon.stop(10.1, stop).command
    assert again is not None and np.allclose(again.arm, outside), "a stop followed a glitched reading"
