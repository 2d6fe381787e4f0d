"""Keyboard teleop from a terminal in raw mode: base drive, joint deltas, gripper, episode keys."""

from __future__ import annotations

import os
import select
import termios
import time
import tty

import numpy as np

from agent.runtime.messages import Observation
from agent.teleop.source import ESTOP, NEXT, QUIT, RERECORD, Motion

HELP = """keyboard teleop
  w/s forward/back   a/d left/right   q/e turn left/right   space stop base
  1-9 select joint   i/k joint +/-    o/c open/close gripper
  n next episode (save)   r re-record   x E-STOP   Esc or Ctrl-C quit"""

DRIVE = {  # key -> (axis, sign) of the base velocity
    "w": (0, 1.0), "s": (0, -1.0), "a": (1, 1.0), "d": (1, -1.0), "q": (2, 1.0), "e": (2, -1.0),
}  # fmt: skip
EVENT_KEYS = {"n": NEXT, "r": RERECORD, "x": ESTOP, "\x1b": QUIT, "\x03": QUIT}


class KeyboardSource:
    """Reads keys from a tty without echo; a held key (auto-repeat) keeps its axis moving."""

    def __init__(self, tty_path: str, max_vel: list[float], joint_step: float = 0.05,
                 hold_s: float = 0.35) -> None:  # fmt: skip
        self.fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY)
        self.saved = termios.tcgetattr(self.fd)
        tty.setraw(self.fd)
        self.max_vel = np.asarray(max_vel, dtype=np.float64)
        self.joint_step, self.hold_s = joint_step, hold_s
        self.vel = np.zeros(3)
        self.pressed_at = np.zeros(3)  # when each axis' key was last seen
        self.arm: np.ndarray | None = None
        self.gripper: float | None = None
        self.joint = 0
        os.write(self.fd, (HELP.replace("\n", "\r\n") + "\r\n").encode())

    def keys(self) -> str:
        """Characters typed since the last call (non-blocking)."""
        out = b""
        while select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, 64)
            if not chunk:
                break
            out += chunk
        return out.decode(errors="ignore")

    def poll(self, obs: Observation | None) -> tuple[Motion | None, list[str]]:
        events: list[str] = []
        now = time.monotonic()
        if self.arm is None and obs is not None:
            self.arm, self.gripper = obs.arm.copy(), obs.gripper
        for key in self.keys():
            if key in DRIVE:
                axis, sign = DRIVE[key]
                self.vel[axis] = sign * self.max_vel[axis]
                self.pressed_at[axis] = now
            elif key == " ":
                self.vel[:] = 0.0
            elif key.isdigit() and key != "0":
                self.joint = int(key) - 1
            elif key in "ik" and self.arm is not None and self.joint < len(self.arm):
                self.arm[self.joint] += self.joint_step * (1 if key == "i" else -1)
            elif key in "oc":
                self.gripper = 1.0 if key == "o" else 0.0
            elif key in EVENT_KEYS:
                events.append(EVENT_KEYS[key])
        self.vel[now - self.pressed_at > self.hold_s] = 0.0
        if obs is None:
            return None, events
        return Motion(self.vel.copy(), None if self.arm is None else self.arm.copy(), self.gripper), events

    def reset_arm(self) -> None:
        """Forget the arm/gripper targets (new episode): re-read them from the next observation."""
        self.arm, self.gripper = None, None

    def close(self) -> None:
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
        os.close(self.fd)
