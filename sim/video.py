"""MP4 writing (PyAV) and a third-person camera that follows the robot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from agent.pybullet_quiet import pybullet as p
from sim.cameras import render

if TYPE_CHECKING:
    from sim.world import SimWorld


class VideoWriter:
    """H.264 mp4 writer fed with (H, W, 3) uint8 frames."""

    def __init__(self, path: Path, fps: float, crf: int = 28) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(path), mode="w")
        self.stream = self.container.add_stream("libx264", rate=int(round(fps)))
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf)}
        self._open = False

    def write(self, frame: np.ndarray) -> None:
        if not self._open:
            self.stream.height, self.stream.width = frame.shape[:2]
            self._open = True
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self.container.mux(packet)

    def close(self) -> None:
        if self._open:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()


def third_person_frame(world: SimWorld, size: int = 256, distance: float = 2.2, pitch: float = -50.0) -> np.ndarray:
    """A (size, size, 3) view from above and behind the robot."""
    x, y, yaw = world.robot_state.pose()
    view = p.computeViewMatrixFromYawPitchRoll([x, y, 0.6], distance, np.degrees(yaw) - 90.0, pitch, 0.0, 2)
    proj = p.computeProjectionMatrixFOV(60.0, 1.0, 0.1, 20.0)
    rgb, _ = render(world.client, view, proj, (size, size), world.layout.light, 0.1, 20.0)
    return rgb


def top_down_frame(world: SimWorld, size: int = 512) -> np.ndarray:
    """Orthographic-looking view of the whole apartment from above."""
    w, d = world.layout.width, world.layout.depth
    target = [w / 2, d / 2, 0.0]
    view = p.computeViewMatrix([w / 2, d / 2 - 3.0, 14.0], target, [0, 1, 0])
    proj = p.computeProjectionMatrixFOV(45.0, 1.6, 1.0, 30.0)
    rgb, _ = render(world.client, view, proj, (size, int(size * 1.6)), world.layout.light, 1.0, 30.0)
    return rgb
