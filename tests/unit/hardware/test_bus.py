"""The driver on the vendor SDK against the emulated bus: round trips, calibration, every fault class."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hardware.feetech import table as T
from hardware.feetech.bus import BusError, FeetechBus
from hardware.feetech.calibration import ArmCalibration, JointCalibration, load_calibration
from hardware.feetech.emulator import EmulatedBus, EmulatedServo, servos_from_args
from hardware.feetech.motors import PositionJoints, Wheels
from tests.unit.hardware.conftest import FOLLOWER, LATENCY_MS

ARM_IDS = [1, 2, 3, 4, 5, 6]


def settle(seconds: float = 0.5) -> None:
    time.sleep(seconds)  # the emulated motors: speed-limited, then a 30 ms time constant


def test_ping_read_write_and_sync_round_trip(emu: EmulatedBus, bus: FeetechBus) -> None:
    assert bus.ping(1) == T.MODEL_STS3215
    bus.sync_write(T.GOAL_POSITION, {1: 3000, 2: 1000})
    bus.sync_write(T.TORQUE_ENABLE, {1: 1, 2: 1})
    settle()
    got = bus.sync_read(T.PRESENT_POSITION, [1, 2, 3])
    assert abs(got[1] - 3000) <= 2 and abs(got[2] - 1000) <= 2 and got[3] == 2048  # 3: torque off, stays
    bus.write(4, T.TORQUE_ENABLE, 1)
    bus.write(4, T.GOAL_POSITION, 2500)
    settle()
    assert abs(bus.read(4, T.PRESENT_POSITION) - 2500) <= 2
    with emu.lock:
        assert emu.servos[4].get(T.GOAL_POSITION) == 2500 and emu.servos[1].get(T.TORQUE_ENABLE) == 1


def test_joints_follow_goals_in_radians_through_the_calibration(emu: EmulatedBus, bus: FeetechBus) -> None:
    cal = load_calibration(FOLLOWER)
    joints = PositionJoints(bus, cal)
    joints.connect()
    target = np.array([0.5, -0.4, 0.8, -0.2, 1.0, 0.9])
    sent = joints.write(target)
    assert np.allclose(sent, target, atol=0.002)
    settle()
    q, dq = joints.read()
    assert np.allclose(q, target, atol=0.005) and np.abs(dq).max() < 0.05
    with emu.lock:
        assert emu.servos[1].get(T.GOAL_POSITION) == cal.joints[0].to_ticks(0.5)
    assert joints.write(np.array([9.0, 0, 0, 0, 0, 0]))[0] == pytest.approx(cal.joints[0].limits[1])  # clipped


def test_wheels_switch_to_wheel_mode_and_turn(emu: EmulatedBus, bus: FeetechBus) -> None:
    with emu.lock:
        assert emu.servos[7].get(T.LOCK) == 1  # EEPROM locked: set_mode must unlock to change the mode
    wheels = Wheels(bus, [7, 8, 9], [1, -1, 1])
    wheels.connect()
    with emu.lock:
        assert all(emu.servos[i].get(T.MODE) == T.MODE_WHEEL and emu.servos[i].get(T.LOCK) == 1 for i in (7, 8, 9))
    sent = wheels.write(np.array([2.0, 2.0, -1.0]))
    assert sent == pytest.approx([2.0, 2.0, -1.0], abs=0.002)
    settle()
    assert np.allclose(wheels.read(), sent, atol=0.01)
    # Past the servo's top speed all three scale by one factor: the base keeps its direction.
    sent = wheels.write(np.array([2.0, 2.0, -40.0]))
    scale = wheels.max_speed / 40.0
    assert sent == pytest.approx([2.0 * scale, 2.0 * scale, -wheels.max_speed], abs=0.002)
    settle()
    assert np.allclose(wheels.read(), sent, atol=0.01)
    with emu.lock:
        assert T.decode_signed(emu.servos[8].get(T.GOAL_SPEED), 15) < 0  # mounted reversed
    wheels.stop()
    settle()
    assert np.abs(wheels.read()).max() < 0.01


def test_eeprom_writes_are_refused_while_locked(emu: EmulatedBus, bus: FeetechBus) -> None:
    bus.write(1, T.MODE, T.MODE_WHEEL)
    assert bus.read(1, T.MODE) == T.MODE_POSITION
    bus.write(1, T.LOCK, 0)
    bus.write(1, T.MODE, T.MODE_WHEEL)
    assert bus.read(1, T.MODE) == T.MODE_WHEEL


def test_a_silent_servo_is_named_retried_and_counted(emu: EmulatedBus, bus: FeetechBus) -> None:
    emu.servos[3].faults.silent = True
    with pytest.raises(BusError, match=r"servo 3: no reply to sync read of address 56") as err:
        bus.sync_read(T.PRESENT_POSITION, ARM_IDS)
    assert err.value.kind == "no_reply" and err.value.servo_id == 3
    assert bus.counters["error.no_reply"] == 3 and bus.counters["retries"] == 2
    with pytest.raises(BusError, match="servo 3: no reply to ping"):
        bus.ping(3)
    emu.servos[3].faults.silent = False
    assert len(bus.sync_read(T.PRESENT_POSITION, ARM_IDS)) == 6  # recovers, no stale replies in the way


def test_corrupt_checksums_are_named_and_retried(emu: EmulatedBus, bus: FeetechBus) -> None:
    emu.servos[5].faults.corrupt = True
    with pytest.raises(BusError, match="servo 5: corrupt reply to read of address 56") as err:
        bus.read(5, T.PRESENT_POSITION)
    assert err.value.kind == "corrupt" and bus.counters["error.corrupt"] == 3
    with pytest.raises(BusError, match="servo 5: corrupt reply to sync read"):
        bus.sync_read(T.PRESENT_POSITION, ARM_IDS)
    emu.servos[5].faults.corrupt = False
    assert bus.read(5, T.PRESENT_POSITION) == 2048


@pytest.mark.parametrize("bits, names", [(32, "overload"), (4, "overheat"), (1, "voltage"), (2, "angle")])
def test_servo_error_bits_are_named_and_not_retried(emu: EmulatedBus, bus: FeetechBus, bits: int, names: str) -> None:
    emu.servos[2].faults.error_bits = bits
    with pytest.raises(BusError, match=f"servo 2: servo error during sync read of address 56: {names}") as err:
        bus.sync_read(T.PRESENT_POSITION, ARM_IDS)
    assert err.value.kind == "servo_error" and err.value.error_bits == bits
    assert bus.counters["error.servo_error"] == 1 and bus.counters["retries"] == 0


def test_missing_and_vanishing_ports_are_named(emu: EmulatedBus) -> None:
    with pytest.raises(BusError, match="serial port /dev/ttyNOPE0 does not exist") as err:
        FeetechBus("/dev/ttyNOPE0").open()
    assert err.value.kind == "port"
    with pytest.raises(BusError, match="is not open"):
        FeetechBus(emu.path).ping(1)
    bus = FeetechBus(emu.path, retries=0, latency_ms=LATENCY_MS).open()
    try:
        assert bus.ping(1) == T.MODEL_STS3215
        emu.unplug()
        with pytest.raises(BusError, match=f"{emu.path}"):
            bus.sync_read(T.PRESENT_POSITION, ARM_IDS)
    finally:
        bus.close()


def test_signed_registers_are_sign_magnitude_on_the_wire(emu: EmulatedBus, bus: FeetechBus) -> None:
    bus.sync_write(T.GOAL_SPEED, {9: -3})  # no reply: the acknowledged writes below come after it
    bus.write(7, T.GOAL_SPEED, -100)  # two's complement 0xFF9C would be full speed reverse on an STS
    bus.write(8, T.LOCK, 0)  # EEPROM
    bus.write(8, T.HOMING_OFFSET, -100)  # sign bit 11
    with emu.lock:
        assert emu.servos[7].get(T.GOAL_SPEED) == 100 | 0x8000 and emu.servos[9].get(T.GOAL_SPEED) == 3 | 0x8000
        assert emu.servos[8].get(T.HOMING_OFFSET) == 100 | 0x800
    assert bus.read(7, T.GOAL_SPEED) == -100 and bus.sync_read(T.GOAL_SPEED, [7, 9]) == {7: -100, 9: -3}
    assert T.decode(T.PRESENT_POSITION, 5 | 0x8000) == -5  # present position decodes the sign bit it declares
    with pytest.raises(ValueError, match=r"value -1 does not fit register \(42, 2\)"):
        bus.write(1, T.GOAL_POSITION, -1)  # unsigned: refused, never wrapped
    with pytest.raises(ValueError, match="value 40000 does not fit"):
        bus.sync_write(T.GOAL_SPEED, {7: 40000})


def test_every_listed_baud_rate_opens(emu: EmulatedBus) -> None:
    for bps in T.BAUD_RATES.values():
        FeetechBus(emu.path, baudrate=bps).open().close()


def test_an_id_change_is_confirmed_by_the_new_id(emu: EmulatedBus, bus: FeetechBus) -> None:
    bus.set_id(7, 20)  # the servo answers the write from its new id
    assert bus.ping(20) == T.MODEL_STS3215 and bus.read(20, T.LOCK) == 1
    with pytest.raises(BusError, match="servo 7: no reply to ping"):
        bus.ping(7)
    with pytest.raises(ValueError, match="use FeetechBus.set_id"):
        bus.write(20, T.ID, 21)


def test_joints_outside_their_range_keep_torque_off_and_never_move() -> None:
    cal = load_calibration(FOLLOWER)  # shoulder_pan 776..3320, elbow_flex 926..3170
    start = {1: 700, 3: 3400}
    emu = EmulatedBus([EmulatedServo(j.id, start.get(j.id, 2048)) for j in cal.all_joints]).start()
    try:
        with FeetechBus(emu.path, latency_ms=LATENCY_MS) as bus:
            with pytest.raises(RuntimeError) as err:
                PositionJoints(bus, cal).connect()
        settle(0.2)
        with emu.lock:
            goals = {i: emu.servos[i].get(T.GOAL_POSITION) for i in start}
            torque = [emu.servos[j.id].get(T.TORQUE_ENABLE) for j in cal.all_joints]
            at = {i: emu.servos[i].reading() for i in start}
    finally:
        emu.stop()
    assert "'shoulder_pan' (servo 1) at tick 700, range 776..3320" in str(err.value)
    assert "'elbow_flex' (servo 3) at tick 3400, range 926..3170" in str(err.value)
    assert goals == start and at == start and not any(torque)


def test_a_joint_across_the_encoder_seam_moves_the_short_way() -> None:
    """wrist_roll: zero at encoder tick 4000, travel 3700 -> 4095 -> 300; calibrated with a servo offset."""
    roll = JointCalibration("wrist_roll", 5, homing_offset=2000, range_min=1710, range_max=2386, servo_offset=2000)
    cal = ArmCalibration(joints=[roll])
    emu = EmulatedBus([EmulatedServo(5, 4000)]).start()
    try:
        with FeetechBus(emu.path, latency_ms=LATENCY_MS) as bus:
            joints = PositionJoints(bus, cal)
            joints.connect()
            assert bus.read(5, T.HOMING_OFFSET) == 2000
            assert joints.read()[0][0] == pytest.approx(0.0, abs=0.002)
            joints.write(np.array([0.25]))
            settle()
            q = joints.read()[0][0]
            with emu.lock:
                encoder, goal = round(emu.servos[5].pos), emu.servos[5].get(T.GOAL_POSITION)
            joints.write(np.array([-0.4]))
            settle()
            q2 = joints.read()[0][0]
    finally:
        emu.stop()
    assert goal == 2000 + 163 and encoder == 67  # +0.25 rad: past the seam, the short way
    assert q == pytest.approx(0.25, abs=0.002) and q2 == pytest.approx(-0.4, abs=0.002)


def test_servos_from_args_is_unchanged_by_offsets() -> None:
    assert [s.reading() for s in servos_from_args(FOLLOWER, [7], 0.0)] == [2048] * 7
