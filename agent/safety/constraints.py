"""The rule layer: small pure functions that clamp one part of a command and say why."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agent.safety.config import ArmLimits, BaseLimits, SeparationConfig

EPS = 1e-9


@dataclass(frozen=True)
class Intervention:
    """One rule firing: which rule, clamp or stop, a reason code and a human-readable detail."""

    rule: str
    action: str  # clamp | stop | estop
    reason: str
    detail: str = ""


def clip(x: np.ndarray, lower: np.ndarray | float, upper: np.ndarray | float) -> np.ndarray:
    """np.clip without its dispatch overhead (a few microseconds per call on 3- to 5-vectors)."""
    return np.minimum(np.maximum(x, lower), upper)


def finite(x: np.ndarray | float) -> bool:
    if isinstance(x, float | int):
        return math.isfinite(x)
    return bool(np.isfinite(x).all())


def clamp_gripper(g: float, lower: float, upper: float) -> tuple[float, list[Intervention]]:
    """Gripper opening inside [lower, upper]; a non-finite value keeps it closed-safe at lower."""
    if not finite(g):
        return lower, [Intervention("gripper", "clamp", "gripper_nonfinite", f"{g}")]
    out = min(max(float(g), lower), upper)
    if out != g:
        return out, [Intervention("gripper", "clamp", "gripper_limit", f"{g:.3f} -> {out:.3f}")]
    return out, []


def brake_arm(q: np.ndarray, v: np.ndarray, lim: ArmLimits, dt: float) -> np.ndarray:
    """Next targets that decelerate every joint at its max acceleration towards zero velocity."""
    dv = np.asarray(lim.max_acc) * dt
    v_next = np.sign(v) * np.maximum(np.abs(v) - dv, 0.0)
    lo = np.asarray(lim.lower) + lim.margin
    hi = np.asarray(lim.upper) - lim.margin
    return clip(q + v_next * dt, np.minimum(q, lo), np.maximum(q, hi))


def braking_distance(v: np.ndarray, amax: np.ndarray, dt: float) -> np.ndarray:
    """Exactly how far brake_arm travels from velocity v until rest (per joint, >= 0)."""
    speed = np.abs(v)
    m = np.floor(speed / (amax * dt))
    return dt * (m * speed - amax * dt * m * (m + 1) / 2)


_ARM_LISTS: dict[int, tuple[ArmLimits, list[float], list[float], list[float], list[float]]] = {}


def _arm_lists(lim: ArmLimits) -> tuple[list[float], list[float], list[float], list[float]]:
    """(lower + margin, upper - margin, max_vel, max_acc) per joint, built once per limits object
    (the decision runs on every command; configs do not change while a node runs)."""
    got = _ARM_LISTS.get(id(lim))
    if got is None or got[0] is not lim:
        lo = [x + lim.margin for x in lim.lower]
        hi = [x - lim.margin for x in lim.upper]
        got = _ARM_LISTS[id(lim)] = (lim, lo, hi, [float(x) for x in lim.max_vel], [float(x) for x in lim.max_acc])
    return got[1], got[2], got[3], got[4]


def limit_arm(
    target: np.ndarray, q_prev: np.ndarray, v_prev: np.ndarray, lim: ArmLimits, dt: float
) -> tuple[np.ndarray, list[Intervention]]:
    """Joint targets within position (with margin), velocity and acceleration limits per period.

    q_prev / v_prev: the previous safe target and its velocity. If any joint could not stop before
    its limit at max deceleration, every joint brakes. Plain float math per joint: on 5-6 joints
    it runs a few times faster than numpy's per-call overhead allows (every command passes here).
    """
    lo, hi, vmax, amax = _arm_lists(lim)
    events: list[Intervention] = []
    if not finite(target):
        events.append(Intervention("arm", "clamp", "arm_nonfinite", "non-finite target; holding"))
        target = q_prev
    want_q, qp, vp = target.tolist(), q_prev.tolist(), v_prev.tolist()
    pos = [min(max(x, low), high) for x, low, high in zip(want_q, lo, hi, strict=True)]
    off = [abs(p - x) for p, x in zip(pos, want_q, strict=True)]
    if max(off) > EPS:
        j = off.index(max(off))
        events.append(Intervention("arm.position", "clamp", "joint_limit", f"joint {j}: {want_q[j]:.3f} rad"))
    v, v_want = [], []
    for p, q0, v0, vm, am in zip(pos, qp, vp, vmax, amax, strict=True):
        step = am * dt
        v_lo, v_hi = max(-vm, v0 - step), min(vm, v0 + step)
        want = (p - q0) / dt
        v.append(min(max(want, min(v_lo, v_hi)), max(v_lo, v_hi)))
        v_want.append(want)
    off = [abs(a - b) for a, b in zip(v, v_want, strict=True)]
    if max(off) > EPS:
        j = off.index(max(off))
        reason = "joint_velocity" if abs(v_want[j]) > vmax[j] else "joint_acceleration"
        events.append(Intervention("arm.rate", "clamp", reason, f"joint {j}: {v_want[j]:.3f} rad/s wanted"))
    q = [q0 + vi * dt for q0, vi in zip(qp, v, strict=True)]
    for j, (qi, vi, am, low, high) in enumerate(zip(q, v, amax, lo, hi, strict=True)):
        speed = abs(vi)
        m = math.floor(speed / (am * dt))
        stop = dt * (m * speed - am * dt * m * (m + 1) / 2)  # braking_distance() of this joint
        if (vi > EPS and qi + stop > high + EPS) or (vi < -EPS and qi - stop < low - EPS):
            events.append(Intervention("arm.brake", "clamp", "joint_cannot_stop", f"joint {j} would overrun; braking"))
            return brake_arm(q_prev, v_prev, lim, dt), events
    return np.array(q), events


def limit_base(v: np.ndarray, v_prev: np.ndarray, lim: BaseLimits, dt: float) -> tuple[np.ndarray, list[Intervention]]:
    """Base velocity within speed, yaw-rate and acceleration limits relative to the previous output
    (plain float math on the three axes, like limit_arm)."""
    vmax, amax = lim.max_vel, lim.max_acc
    events: list[Intervention] = []
    if not finite(v):
        events.append(Intervention("base", "clamp", "base_nonfinite", "non-finite velocity; braking"))
        v = np.zeros(3)
    want = v.tolist()
    out = [min(max(x, -m), m) for x, m in zip(want, vmax, strict=True)]
    if abs(out[0] - want[0]) > EPS or abs(out[1] - want[1]) > EPS:
        events.append(Intervention("base.speed", "clamp", "base_speed", f"{[round(x, 3) for x in want[:2]]} m/s"))
    if abs(out[2] - want[2]) > EPS:
        events.append(Intervention("base.yaw_rate", "clamp", "yaw_rate", f"{want[2]:.3f} rad/s"))
    acc = []
    for x, v0, am in zip(out, v_prev.tolist(), amax, strict=True):
        low, high = v0 - am * dt, v0 + am * dt
        acc.append(min(max(x, min(low, high)), max(low, high)))
    if any(abs(a - x) > EPS for a, x in zip(acc, out, strict=True)):
        events.append(
            Intervention(
                "base.acceleration",
                "clamp",
                "base_acceleration",
                f"{np.round(out, 3).tolist()} from {np.round(v_prev, 3).tolist()}",
            )
        )
    return np.array(acc), events


def brake_base(v_prev: np.ndarray, lim: BaseLimits, dt: float) -> np.ndarray:
    """Base velocity one period closer to rest at the max deceleration (a controlled stop)."""
    dv = np.asarray(lim.max_acc) * dt
    v_prev = np.where(np.isfinite(v_prev), v_prev, 0.0)
    return np.sign(v_prev) * np.maximum(np.abs(v_prev) - dv, 0.0)


def allowed_speed(clearance: float, slow: float, protective: float, vmax: float) -> float:
    """Speed allowed towards an obstacle at `clearance`: vmax beyond slow, 0 inside protective (or NaN)."""
    if np.isnan(clearance):
        return 0.0
    frac = (clearance - protective) / (slow - protective)
    return float(vmax * min(max(frac, 0.0), 1.0))


def limit_separation(
    v: np.ndarray,
    clearance: float,
    direction: np.ndarray,
    people: list[tuple[float, np.ndarray]],
    sep: SeparationConfig,
    lim: BaseLimits,
) -> tuple[np.ndarray, list[Intervention]]:
    """Scale the base's translation down so its approach speed fits the clearance; stop near a person.

    clearance: distance [m] from the base's edge to the nearest static obstacle; direction: unit
    vector towards it in the robot frame. people: (clearance, direction) per tracked person.
    Only approaching is limited: moving away or along an obstacle stays free.
    """
    for dist, _ in people:
        if not np.isfinite(dist) or dist <= sep.person_protective_distance:
            return np.zeros(3), [Intervention("separation.person", "stop", "person_protective", f"{dist:.2f} m")]
    out = np.array(v, dtype=float)
    vmax = float(np.hypot(lim.max_vel[0], lim.max_vel[1]))
    checks = [(clearance, direction, sep.slow_distance, sep.protective_distance, "obstacle")]
    checks += [(d, u, sep.person_slow_distance, sep.person_protective_distance, "person") for d, u in people]
    events: list[Intervention] = []
    for dist, unit, slow, protective, what in checks:
        unit = np.asarray(unit, dtype=float)[:2]
        norm = float(np.hypot(unit[0], unit[1])) if finite(unit) else 0.0
        allowed = allowed_speed(dist, slow, protective, vmax)
        # no direction known (or inside the obstacle): treat every translation as approaching
        approach = float(out[:2] @ (unit / norm)) if norm > EPS else float(np.hypot(*out[:2]))
        if approach > allowed + EPS:
            out[:2] *= allowed / approach
            reason = f"{what}_protective" if allowed == 0.0 else f"{what}_slowdown"
            events.append(
                Intervention(
                    "separation",
                    "clamp",
                    reason,
                    f"clearance {dist:.2f} m, approach {approach:.3f} -> {allowed:.3f} m/s",
                )
            )
    return out, events
