"""Measure an arm's calibration: zero pose, then each joint's range, by hand with torque off.

python -m hardware.feetech.calibrate --port /dev/ttyACM0 --out configs/hardware/calibration/my_follower.yaml
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from pathlib import Path

import yaml

from hardware.feetech import table as T
from hardware.feetech.bus import BusError, FeetechBus
from hardware.feetech.calibration import MAX_SERVO_OFFSET, JointCalibration
from hardware.feetech.motors import set_eeprom

SO101_JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
MARGIN_TICKS = 10  # the recorded range is shrunk by this much, away from the hard stops
HALF_REV = T.TICKS_PER_REV // 2


def calibrate(bus: FeetechBus, names: list[str], ids: list[int], directions: list[int],
              wait: Callable[[str], object] = input) -> dict:  # fmt: skip
    """Torque off, servo offsets 0; zero = the pose at the first prompt; range = what the joints swept until
    the second, followed across the encoder's 0/4095 seam (the servo offset then moves the seam out of it)."""
    bus.sync_write(T.TORQUE_ENABLE, {i: 0 for i in ids})
    for i in ids:
        set_eeprom(bus, i, T.HOMING_OFFSET, 0)
    wait("Put the arm in its zero pose (upright, gripper closed: docs/hardware.md) and press Enter ")
    zero = bus.sync_read(T.PRESENT_POSITION, ids)
    last, pos, lo, hi = dict(zero), dict(zero), dict(zero), dict(zero)  # pos, lo, hi: unwrapped ticks
    done = threading.Event()
    failure: list[BusError] = []

    def sample() -> None:
        while not done.wait(0.02):
            try:
                now = bus.sync_read(T.PRESENT_POSITION, ids)
            except BusError as exc:
                failure.append(exc)
                return
            for i, v in now.items():
                pos[i] += (v - last[i] + HALF_REV) % T.TICKS_PER_REV - HALF_REV  # the short way round
                last[i] = v
                lo[i], hi[i] = min(lo[i], pos[i]), max(hi[i], pos[i])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    wait("Move every joint slowly through its whole range, then press Enter ")
    done.set()
    sampler.join()
    if failure:
        raise failure[0]
    return _calibration([joint_range(n, i, d, zero[i], lo[i], hi[i]) for n, i, d in zip(names, ids, directions,
                                                                                       strict=True)])  # fmt: skip


def joint_range(name: str, servo_id: int, direction: int, zero: int, lo: int, hi: int) -> dict:
    """One joint's calibration from its zero tick and swept travel lo..hi (unwrapped: may pass 0 or 4095)."""
    if hi - lo < 2 * MARGIN_TICKS:
        raise ValueError(f"joint '{name}' (servo {servo_id}) hardly moved ({lo}..{hi}): move it and retry")
    if hi - lo >= T.TICKS_PER_REV - 2 * MARGIN_TICKS:
        raise ValueError(f"joint '{name}' (servo {servo_id}) swept a full turn ({lo}..{hi}): it needs hard "
                         "limits, or move it only through the range it may use")  # fmt: skip
    offset = 0
    if lo < 0 or hi >= T.TICKS_PER_REV:  # the travel crosses the seam: centre it in the servo's reading
        centred = (lo + hi) // 2 % T.TICKS_PER_REV - HALF_REV  # offset = centre - mid reading, mod a turn
        offset = max(-MAX_SERVO_OFFSET, min(MAX_SERVO_OFFSET, centred))
        print(f"joint '{name}' (servo {servo_id}) crosses the encoder's 0/4095 seam: servo offset {offset}")
    shift = (zero - offset) % T.TICKS_PER_REV - zero  # encoder ticks -> the servo's reading with the offset
    rmin, rmax = min(lo + MARGIN_TICKS, zero) + shift, max(hi - MARGIN_TICKS, zero) + shift
    return {"name": name, "id": servo_id, "homing_offset": zero + shift, "direction": direction,
            "range_min": rmin, "range_max": rmax, "servo_offset": offset}  # fmt: skip


def _calibration(joints: list[dict]) -> dict:
    """The file's content: arm joints, gripper (the last joint) and its open angle."""
    g = JointCalibration(**joints[-1])
    far = max((g.range_min, g.range_max), key=lambda t: abs(t - g.homing_offset))  # the open end
    return {"joints": joints[:-1], "gripper": joints[-1], "gripper_closed": 0.0,
            "gripper_open": round(g.to_rad(far), 4)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hardware.feetech.calibrate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--port", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--ids", default="1,2,3,4,5,6", help="servo ids: the arm joints, then the gripper")
    ap.add_argument("--names", default=",".join(SO101_JOINTS))
    ap.add_argument("--directions", default="", help="+1/-1 per joint (default all +1)")
    a = ap.parse_args(argv)
    ids = [int(x) for x in a.ids.split(",")]
    names = a.names.split(",")
    dirs = [int(x) for x in a.directions.split(",")] if a.directions else [1] * len(ids)
    if not len(ids) == len(names) == len(dirs) or len(ids) < 2:
        ap.error("--ids, --names and --directions need the same number of values (arm joints + gripper)")
    try:
        with FeetechBus(a.port) as bus:
            for i in ids:
                bus.ping(i)
            cal = calibrate(bus, names, ids, dirs)
    except (BusError, ValueError) as exc:
        print(f"error: {exc}")
        return 1
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(yaml.safe_dump(cal, sort_keys=False))
    print(f"wrote {a.out}; check directions (+1: ticks grow with the joint angle) before driving")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
