"""Gamepad source against a real SDL virtual joystick: sticks, deadzone, triggers, buttons, unplug."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest

from agent.runtime.config import ConfigError, load_config
from agent.runtime.messages import Observation
from agent.teleop.gamepad import GamepadConfig, GamepadSource, import_pygame
from agent.teleop.node import TeleopConfig
from agent.teleop.source import ESTOP, NEXT, QUIT, RERECORD, DeviceError
from tests.unit.teleop.virtual_gamepad import VirtualGamepad

MAX_VEL = [0.4, 0.3, 1.2]
LX, LY, LT, RX, RY, RT = range(6)  # Xbox layout as SDL numbers it on Linux
A, B, X, Y, LB, RB, BACK, START, GUIDE = range(9)


def _obs(arm: list[float] | None = None) -> Observation:
    q = np.asarray(arm if arm is not None else [0.0, 0.0, 0.0])
    return Observation(head=np.zeros((8, 8, 3), np.uint8), base_pose=np.zeros(3), base_vel=np.zeros(3), arm=q,
                       arm_vel=np.zeros_like(q), gripper=0.5)  # fmt: skip


@pytest.fixture
def pad() -> Iterator[VirtualGamepad]:
    p = VirtualGamepad()
    yield p
    p.detach()


def source(cfg: GamepadConfig | None = None, **kw: list[float]) -> GamepadSource:
    cfg = cfg or GamepadConfig(index=import_pygame().joystick.get_count() - 1)  # the newest pad: ours
    return GamepadSource(cfg, MAX_VEL, **kw)


def vel(src: GamepadSource) -> np.ndarray:
    motion, events = src.poll(_obs())
    assert motion is not None and events == []
    return motion.base_vel


def test_sticks_drive_the_base_through_the_deadzone(pad: VirtualGamepad) -> None:
    src = source()
    np.testing.assert_allclose(vel(src), 0.0)
    pad.axis(LY, -1.0)  # left stick full forward
    np.testing.assert_allclose(vel(src), [0.4, 0.0, 0.0], atol=1e-4)
    pad.axis(LX, -0.1)  # inside the 0.15 deadzone: no sideways drift
    np.testing.assert_allclose(vel(src), [0.4, 0.0, 0.0], atol=1e-4)
    pad.axis(LX, -0.575)  # (0.575 - 0.15) / 0.85 = half way left
    pad.axis(LY, 0.0)
    np.testing.assert_allclose(vel(src), [0.0, 0.15, 0.0], atol=1e-4)
    pad.axis(LX, 0.0)
    pad.axis(RX, 1.0)  # right stick right: turn right (negative wz)
    np.testing.assert_allclose(vel(src), [0.0, 0.0, -1.2], atol=1e-4)
    pad.axis(RX, 0.0)
    np.testing.assert_allclose(vel(src), 0.0)
    src.close()


def test_a_stick_held_at_start_or_new_episode_does_not_drive(pad: VirtualGamepad) -> None:
    pad.axis(LY, -1.0)
    src = source()
    assert not vel(src).any()  # pushed since before the source opened: ignored
    pad.axis(LY, 0.0)
    assert not vel(src).any()
    pad.axis(LY, -1.0)
    assert vel(src)[0] == pytest.approx(0.4, abs=1e-4)
    src.reset_arm()  # new episode: wait for the stick at rest again
    assert not vel(src).any()
    pad.axis(LY, 0.0)
    vel(src)
    pad.axis(LY, 1.0)
    assert vel(src)[0] == pytest.approx(-0.4, abs=1e-4)
    src.close()


def test_triggers_jog_the_selected_joint_within_its_limits(pad: VirtualGamepad) -> None:
    src = source(arm_low=[-1.0, -1.0, -1.0], arm_high=[1.0, 1.0, 1.0])
    src.poll(_obs())  # arms (all at rest) and reads the arm targets
    pad.tap(RB)  # select joint 2
    pad.axis(RT, 1.0)
    src.poll(_obs())
    time.sleep(0.1)
    motion, _ = src.poll(_obs())
    assert motion is not None and motion.arm is not None
    assert 0.6 * 0.1 <= motion.arm[1] <= 0.6 * 0.5, motion.arm  # 0.6 rad/s for >= 0.1 s, dt capped at 0.25 s
    assert motion.arm[0] == motion.arm[2] == 0.0
    pad.axis(RT, -1.0)
    pad.axis(LT, 1.0)
    pad.tap(LB)
    pad.tap(LB)  # joint 2 -> 1 -> 3 (wraps)
    for _ in range(8):
        time.sleep(0.25)
        motion, _ = src.poll(_obs())
    assert motion is not None and motion.arm is not None
    assert motion.arm[2] == -1.0  # 0.6 rad/s for 8 x 0.25 s = 1.2 rad stops at the lower limit
    assert 0.06 <= motion.arm[1] <= 0.3 and motion.arm[0] == 0.0
    src.close()


def test_buttons_set_the_gripper_and_raise_episode_events(pad: VirtualGamepad) -> None:
    src = source()
    pad.tap(A)
    motion, events = src.poll(_obs())
    assert motion is not None and motion.gripper == 0.0 and events == []
    pad.tap(Y)
    assert src.poll(_obs())[0].gripper == 1.0
    for button in (START, BACK, B, GUIDE):  # each press shorter than a tick still counts
        pad.tap(button)
    assert src.poll(_obs())[1] == [NEXT, RERECORD, ESTOP, QUIT]
    pad.button(B, True)  # a held button is one event, not one per tick
    assert src.poll(_obs())[1] == [ESTOP]
    assert src.poll(_obs())[1] == []
    src.close()


def test_unplugged_mid_run_stops_and_a_replug_waits_for_rest(pad: VirtualGamepad,
                                                              caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    src = source()
    src.poll(_obs())
    pad.tap(A)  # close the gripper on something
    pad.axis(LY, -1.0)
    assert vel(src)[0] == pytest.approx(0.4, abs=1e-4)
    with caplog.at_level(logging.ERROR, logger="amibot.gamepad"):
        pad.detach()
        motion, events = src.poll(_obs())
    assert motion is not None and events == []
    np.testing.assert_array_equal(motion.base_vel, 0.0)
    assert motion.gripper == 0.0  # still holding what it held
    assert src.disconnects == 1 and "disconnected" in caplog.text
    np.testing.assert_array_equal(vel(src), 0.0)

    again = VirtualGamepad()  # plugged back in with the stick still pushed
    try:
        again.axis(LY, -1.0)
        np.testing.assert_array_equal(vel(src), 0.0)
        again.axis(LY, 0.0)
        vel(src)
        again.axis(LY, -1.0)
        assert vel(src)[0] == pytest.approx(0.4, abs=1e-4)
    finally:
        src.close()
        again.detach()


def test_no_joystick_is_a_clear_error_naming_the_index() -> None:
    index = import_pygame().joystick.get_count()
    with pytest.raises(DeviceError, match=rf"no gamepad at index {index}: SDL sees {index} joystick"):
        GamepadSource(GamepadConfig(index=index), MAX_VEL)


def test_a_pad_without_a_mapped_input_is_refused(pad: VirtualGamepad) -> None:
    index = import_pygame().joystick.get_count() - 1
    with pytest.raises(DeviceError, match="has 6 axes and 11 buttons; the mapping uses axis 7"):
        GamepadSource(GamepadConfig(index=index, jog_axes=[7, 2]), MAX_VEL)


def test_missing_pygame_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pygame", None)  # what `import pygame` sees when it is not installed
    with pytest.raises(DeviceError, match=r"pip install 'amibot\[gamepad\]'"):
        GamepadSource(GamepadConfig(), MAX_VEL)


def test_mapping_is_overridable_and_validated_from_the_teleop_config() -> None:
    base = ["publish=inproc://t", "backend_rpc=inproc://b", "inputs={obs: 'inproc://o'}", "device=gamepad"]
    cfg = load_config(TeleopConfig, None, [*base, "gamepad.deadzone=0.3", "gamepad.button_quit=-1"])
    assert cfg.gamepad.deadzone == 0.3 and "quit" not in cfg.gamepad.buttons().values()
    assert cfg.gamepad.buttons()[1] == "estop"
    with pytest.raises(ConfigError, match=r"'gamepad.deadzone' = 1.5: must be in \[0, 1\)"):
        load_config(TeleopConfig, None, [*base, "gamepad.deadzone=1.5"])
    with pytest.raises(ConfigError, match="two actions share a button"):
        load_config(TeleopConfig, None, [*base, "gamepad.button_open=0"])
    with pytest.raises(ConfigError, match="unknown key 'gamepad.dead_zone'"):
        load_config(TeleopConfig, None, [*base, "gamepad.dead_zone=0.3"])
