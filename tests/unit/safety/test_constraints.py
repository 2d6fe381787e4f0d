"""Property tests of the pure rules: no output ever breaks a limit, whatever the input sequence."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.safety import constraints as rules
from agent.safety.config import SafetyConfig
from tests.unit.safety.conftest import load

CFG: SafetyConfig = load("collision.scene=")
DT = CFG.dt
TOL = 1e-9
wild = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-10, 10))


def arm_seq(n: int) -> st.SearchStrategy:
    return st.lists(st.lists(wild, min_size=n, max_size=n), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(arm_seq(5), st.lists(st.floats(-1.6, 1.6), min_size=5, max_size=5))
def test_arm_targets_respect_position_velocity_and_acceleration(targets: list, start: list) -> None:
    lim = CFG.arm
    lo, hi = np.array(lim.lower) + lim.margin, np.array(lim.upper) - lim.margin
    q, v = np.array(start), np.zeros(5)
    for t in targets:
        q_new, _ = rules.limit_arm(np.array(t), q, v, lim, DT)
        v_new = (q_new - q) / DT
        assert np.all(np.isfinite(q_new))
        assert np.all(q_new <= np.maximum(hi, q) + TOL) and np.all(q_new >= np.minimum(lo, q) - TOL)
        assert np.all(np.abs(v_new) <= np.maximum(np.array(lim.max_vel), np.abs(v)) + 1e-6)
        assert np.all(np.abs(v_new - v) <= np.array(lim.max_acc) * DT + 1e-6)
        # from here it can always stop inside the limits (so braking is never too late)
        stop = rules.braking_distance(v_new, np.array(lim.max_acc), DT)
        inside = (q_new >= lo - TOL) & (q_new <= hi + TOL)
        assert np.all(~inside | (q_new + np.where(v_new > 0, stop, 0) <= hi + 1e-6))
        assert np.all(~inside | (q_new - np.where(v_new < 0, stop, 0) >= lo - 1e-6))
        q, v = q_new, v_new


def test_arm_brakes_all_joints_when_one_cannot_stop() -> None:
    lim = CFG.arm
    hi = np.array(lim.upper) - lim.margin
    q_prev, v_prev = np.zeros(5), np.full(5, 1.0)
    q_prev[0], v_prev[0] = hi[0] - 0.25, 3.0  # joint 0 races towards its upper limit
    target = np.full(5, 1.0)
    target[0] = hi[0]
    out, events = rules.limit_arm(target, q_prev, v_prev, lim, DT)
    assert any(e.reason == "joint_cannot_stop" for e in events)
    assert np.all((out - q_prev) / DT < v_prev)  # every joint decelerates, not only joint 0
    assert np.all(out <= hi)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(wild, min_size=3, max_size=3), min_size=1, max_size=40))
def test_base_respects_speed_yaw_rate_and_acceleration(vels: list) -> None:
    lim = CFG.base
    prev = np.zeros(3)
    for v in vels:
        out, _ = rules.limit_base(np.array(v), prev, lim, DT)
        assert np.all(np.isfinite(out)) and np.all(np.abs(out) <= np.array(lim.max_vel) + TOL)
        assert np.all(np.abs(out - prev) <= np.array(lim.max_acc) * DT + TOL)
        prev = out


def test_huge_finite_base_command_is_clamped_and_reported_without_overflow() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the event text once overflowed in np.round
        out, events = rules.limit_base(np.array([1.7e308, -1.7e308, 0.0]), np.zeros(3), CFG.base, DT)
    assert np.all(np.abs(out) <= np.array(CFG.base.max_acc) * DT + TOL)
    assert "1.7e+308" in next(e for e in events if e.reason == "base_speed").detail


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(-0.4, 0.4), min_size=3, max_size=3),
    st.floats(-1.0, 3.0),
    st.floats(-np.pi, np.pi),
    st.lists(st.tuples(st.floats(-1, 3), st.floats(-np.pi, np.pi)), max_size=2),
)
def test_separation_never_speeds_up_and_stops_inside_protective(v: list, dist: float, ang: float, people: list) -> None:
    sep, lim = CFG.separation, CFG.base
    unit = np.array([np.cos(ang), np.sin(ang)])
    persons = [(d, np.array([np.cos(a), np.sin(a)])) for d, a in people]
    out, events = rules.limit_separation(np.array(v), dist, unit, persons, sep, lim)
    assert np.hypot(*out[:2]) <= np.hypot(*v[:2]) + TOL
    if dist <= sep.protective_distance:
        assert out[:2] @ unit <= TOL  # no approach at all
    if any(d <= sep.person_protective_distance for d, _ in people):
        assert np.all(out == 0) and events[0].action == "stop"


def test_separation_scales_with_distance_and_allows_moving_away() -> None:
    sep, lim = CFG.separation, CFG.base
    towards = np.array([0.4, 0.0, 0.0])
    speeds = [rules.limit_separation(towards, d, np.array([1.0, 0.0]), [], sep, lim)[0][0] for d in (0.3, 0.2, 0.1)]
    assert speeds[0] > speeds[1] > speeds[2] > 0
    out, events = rules.limit_separation(-towards, 0.0, np.array([1.0, 0.0]), [], sep, lim)
    assert out[0] == -0.4 and not events


@given(wild)
def test_gripper_always_within_limits(g: float) -> None:
    out, _ = rules.clamp_gripper(g, CFG.gripper_lower, CFG.gripper_upper)
    assert CFG.gripper_lower <= out <= CFG.gripper_upper


def test_brake_base_decelerates_within_limits_to_rest() -> None:
    v = np.array([0.4, -0.4, 1.2])
    for _ in range(10):
        nxt = rules.brake_base(v, CFG.base, DT)
        assert np.all(np.abs(nxt) <= np.abs(v)) and np.all(np.abs(nxt - v) <= np.array(CFG.base.max_acc) * DT + TOL)
        v = nxt
    assert np.all(v == 0)
