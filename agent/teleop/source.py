"""The interface of every teleop device: polled once per control tick for motion and events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from agent.runtime.messages import Observation

# Events a source can raise; the teleop node acts on them.
NEXT = "next"  # save the episode, reset to the next one
RERECORD = "rerecord"  # discard the episode, reset to the same one
ESTOP = "estop"  # latch the safety e-stop and stop sending motion
QUIT = "quit"  # stop teleop (the graph shuts down)
EVENTS = (NEXT, RERECORD, ESTOP, QUIT)


class DeviceError(RuntimeError):
    """A teleop device cannot be used (missing, unplugged, a package not installed); says what to do."""


@dataclass
class Motion:
    """What a device asks for this tick; arm None holds the arm, gripper None keeps it."""

    base_vel: np.ndarray = field(default_factory=lambda: np.zeros(3))  # vx, vy, wz robot frame
    arm: np.ndarray | None = None  # joint targets [rad]
    gripper: float | None = None  # 0 closed .. 1 open


class TeleopSource(Protocol):
    """A teleop device: keyboard, gamepad, leader arm, script."""

    def poll(self, obs: Observation | None) -> tuple[Motion | None, list[str]]:
        """Motion to send now (None: send nothing) and any events, given the newest observation."""
        ...

    def close(self) -> None:
        """Release the device (restore the terminal, close the port)."""
        ...
