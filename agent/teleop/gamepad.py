"""Gamepad teleop through pygame's joystick API (headless): sticks drive, triggers jog, buttons act."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, fields
from types import ModuleType
from typing import Any

import numpy as np

from agent.runtime.messages import Observation
from agent.teleop.source import EVENTS, DeviceError, Motion

log = logging.getLogger("amibot.gamepad")
EXTRA_HINT = "pip install 'amibot[gamepad]'"
MAX_DT = 0.25  # s: a stalled tick never turns into one big joint jump


@dataclass
class GamepadConfig:
    """Which joystick, and how its axes and buttons map to motion and events (-1: button unused).

    Defaults are an Xbox 360 / One / Series pad as SDL numbers it on Linux (xpad / evdev)."""

    index: int = 0  # pygame joystick device index
    deadzone: float = 0.15  # |axis| below this reads 0; the rest is rescaled to 0..1
    base_axes: list[int] = field(default_factory=lambda: [1, 0, 3])  # vx, vy, wz: left Y, left X, right X
    base_scale: list[float] = field(default_factory=lambda: [-1.0, -1.0, -1.0])  # x max velocity; up/left read -1
    jog_axes: list[int] = field(default_factory=lambda: [5, 2])  # right trigger raises the joint, left lowers
    joint_speed: float = 0.6  # rad/s of the selected joint at a full trigger pull
    button_close: int = 0  # A: close the gripper
    button_estop: int = 1  # B: E-STOP
    button_open: int = 3  # Y: open the gripper
    button_joint_prev: int = 4  # LB: select the previous arm joint
    button_joint_next: int = 5  # RB: select the next arm joint
    button_rerecord: int = 6  # Back: discard the episode, redo the same seed
    button_next: int = 7  # Start: save the episode, next seed
    button_quit: int = 8  # Guide: quit teleop

    def buttons(self) -> dict[int, str]:
        """Button index -> action name ('close', 'estop', ...) for the buttons in use."""
        return {getattr(self, f.name): f.name.removeprefix("button_") for f in fields(self)
                if f.name.startswith("button_") and getattr(self, f.name) >= 0}  # fmt: skip

    def check(self) -> None:
        if self.index < 0:
            raise ValueError(f"key 'gamepad.index' = {self.index}: must be >= 0")
        if not 0.0 <= self.deadzone < 1.0:
            raise ValueError(f"key 'gamepad.deadzone' = {self.deadzone}: must be in [0, 1)")
        for key, n in (("base_axes", 3), ("base_scale", 3), ("jog_axes", 2)):
            if len(getattr(self, key)) != n:
                raise ValueError(f"key 'gamepad.{key}' = {getattr(self, key)}: needs {n} values")
        if min(self.base_axes + self.jog_axes) < 0:
            raise ValueError("keys 'gamepad.base_axes' / 'gamepad.jog_axes': axis indices must be >= 0")
        if self.joint_speed < 0:
            raise ValueError(f"key 'gamepad.joint_speed' = {self.joint_speed}: must be >= 0")
        used = [getattr(self, f.name) for f in fields(self) if f.name.startswith("button_")]
        used = [b for b in used if b >= 0]
        if len(set(used)) != len(used):
            raise ValueError(f"keys 'gamepad.button_*' = {used}: two actions share a button")


def import_pygame() -> ModuleType:
    """pygame, set up for a headless process (dummy video/audio drivers, no window, no banner)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("SDL_JOYSTICK_ALLOW_BACKGROUND_EVENTS", "1")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as exc:
        raise DeviceError(f"the gamepad device needs pygame ({exc}); install it with: {EXTRA_HINT}") from None
    return pygame


def shape_stick(v: np.ndarray, deadzone: float) -> np.ndarray:
    """Axis values in -1..1 with the deadzone cut out and the rest rescaled to reach 1."""
    v = np.clip(v, -1.0, 1.0)
    return np.sign(v) * np.maximum(np.abs(v) - deadzone, 0.0) / (1.0 - deadzone)


class GamepadSource:
    """Polls one joystick: base velocity from the sticks, jog of the selected arm joint from the
    triggers, buttons for gripper / joint select / episode events / e-stop (seen even when a press
    is shorter than a tick). A pad that disappears, or that has not yet been seen with its sticks
    and triggers at rest (at start, after a new episode or a reconnect), gives zero motion."""

    def __init__(self, cfg: GamepadConfig, max_vel: list[float], arm_low: list[float] | None = None,
                 arm_high: list[float] | None = None) -> None:  # fmt: skip
        self.pg = import_pygame()
        self.cfg = cfg
        self.actions = cfg.buttons()
        self.max_vel = np.asarray(max_vel, dtype=np.float64)
        self.arm_low = None if arm_low is None else np.asarray(arm_low, dtype=np.float64)
        self.arm_high = None if arm_high is None else np.asarray(arm_high, dtype=np.float64)
        try:
            self.pg.display.init()  # SDL's event pump lives in the video subsystem; no window is opened
            self.pg.joystick.init()
        except self.pg.error as exc:
            raise DeviceError(f"gamepad: SDL could not start ({exc}); SDL_VIDEODRIVER=dummy runs headless") from None
        self.pg.event.pump()  # let SDL enumerate what is plugged in
        self.instance_id = -1
        self.armed = False  # analog inputs count only after one tick at rest
        self.disconnects = 0
        self.arm: np.ndarray | None = None
        self.gripper: float | None = None
        self.joint = 0
        self.last_t: float | None = None
        self.js: Any = self._open()  # None while unplugged
        log.info("gamepad %d: %r (%d axes, %d buttons); %s", cfg.index, self.js.get_name(), self.js.get_numaxes(),
                 self.js.get_numbuttons(), ", ".join(f"{a} = button {b}" for b, a in self.actions.items()))  # fmt: skip

    def _open(self) -> Any:
        """Open the joystick at cfg.index; DeviceError if there is none or it lacks a mapped input."""
        i, count = self.cfg.index, self.pg.joystick.get_count()
        if count <= i:
            raise DeviceError(f"no gamepad at index {i}: SDL sees {count} joystick(s); plug one in, "
                              "or choose another with --set teleop.gamepad.index=N")  # fmt: skip
        js = self.pg.joystick.Joystick(i)
        js.init()
        axes, buttons = max(self.cfg.base_axes + self.cfg.jog_axes), max(self.actions, default=-1)
        if axes >= js.get_numaxes() or buttons >= js.get_numbuttons():
            name, n_axes, n_buttons = js.get_name(), js.get_numaxes(), js.get_numbuttons()
            js.quit()
            raise DeviceError(f"gamepad {i} {name!r} has {n_axes} axes and {n_buttons} buttons; the mapping "
                              f"uses axis {axes} and button {buttons} (set teleop.gamepad.*)")  # fmt: skip
        self.instance_id = js.get_instance_id()
        self.armed = False
        return js

    def poll(self, obs: Observation | None) -> tuple[Motion | None, list[str]]:
        if self.arm is None and obs is not None:
            self.arm, self.gripper = obs.arm.copy(), obs.gripper
        events: list[str] = []
        for ev in self.pg.event.get():  # also pumps SDL: joystick state and hot-plug
            self._on_event(ev, events)
        now = time.monotonic()
        dt = 0.0 if self.last_t is None else min(now - self.last_t, MAX_DT)
        self.last_t = now
        vel = np.zeros(3)
        if self.js is not None:
            stick = shape_stick(np.array([self.js.get_axis(a) for a in self.cfg.base_axes]), self.cfg.deadzone)
            pull = shape_stick((np.array([self.js.get_axis(a) for a in self.cfg.jog_axes]) + 1.0) / 2.0,
                               self.cfg.deadzone)  # triggers rest at -1  # fmt: skip
            if not self.armed and not stick.any() and not pull.any():
                self.armed = True
                log.info("gamepad %d at rest: driving", self.cfg.index)
            if self.armed:
                vel = np.clip(stick * np.asarray(self.cfg.base_scale), -1.0, 1.0) * self.max_vel
                self._jog((pull[0] - pull[1]) * self.cfg.joint_speed * dt)
        if obs is None:
            return None, events
        return Motion(vel, None if self.arm is None else self.arm.copy(), self.gripper), events

    def _on_event(self, ev: Any, events: list[str]) -> None:
        pg = self.pg
        if ev.type == pg.JOYDEVICEREMOVED and self.js is not None and ev.instance_id == self.instance_id:
            self.js.quit()
            self.js, self.disconnects = None, self.disconnects + 1
            log.error("gamepad %d disconnected: base stopped, arm and gripper held; plug it back in and "
                      "release the sticks to drive again", self.cfg.index)  # fmt: skip
        elif ev.type == pg.JOYDEVICEADDED and self.js is None:
            try:
                self.js = self._open()
            except DeviceError as exc:
                log.error("%s", exc)
                return
            log.warning("gamepad %d reconnected: %r; release the sticks to drive", self.cfg.index,
                        self.js.get_name())  # fmt: skip
        elif ev.type == pg.JOYBUTTONDOWN and self.js is not None and ev.instance_id == self.instance_id:
            action = self.actions.get(ev.button)
            if action in EVENTS:  # button_estop -> 'estop', button_next -> 'next', ...
                events.append(action)
            elif action in ("open", "close"):
                self.gripper = 1.0 if action == "open" else 0.0
            elif action in ("joint_prev", "joint_next") and self.arm is not None and len(self.arm):
                self.joint = (self.joint + (1 if action == "joint_next" else -1)) % len(self.arm)
                log.info("gamepad: arm joint %d selected", self.joint + 1)

    def _jog(self, step: float) -> None:
        """Move the selected joint's target by step [rad], within the arm's limits when known."""
        if self.arm is None or step == 0.0 or self.joint >= len(self.arm):
            return
        q = self.arm[self.joint] + step
        if self.arm_low is not None and self.arm_high is not None:
            q = float(np.clip(q, self.arm_low[self.joint], self.arm_high[self.joint]))
        self.arm[self.joint] = q

    def reset_arm(self) -> None:
        """New episode: re-read arm/gripper targets from the next observation; wait for the sticks at rest."""
        self.arm, self.gripper = None, None
        self.armed = False

    def close(self) -> None:
        """Release the joystick; SDL itself is shut down by pygame at process exit."""
        if self.js is not None:
            self.js.quit()
            self.js = None
