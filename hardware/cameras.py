"""Camera sources for the hardware backend: OpenCV VideoCapture (index or path) or a test pattern."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

import cv2
import numpy as np


class CameraError(RuntimeError):
    """A camera cannot be opened or read; the message names it."""


@dataclass
class CameraConfig:
    """One camera: `opencv` with a device index ("0") or path (/dev/video2, a video file), or `test_pattern`."""

    source: Literal["opencv", "test_pattern"] = "test_pattern"
    device: str = "0"
    capture_size: list[int] = field(default_factory=list)  # [height, width] asked of the device; [] = default
    read_timeout_s: float = 1.0


class Camera(Protocol):
    def read(self) -> np.ndarray:
        """The newest frame, RGB uint8 [H, W, 3] at the node's image size."""
        ...

    def close(self) -> None: ...


class PatternCamera:
    """Colour bars with a moving stripe: frames change every read, like a live camera."""

    def __init__(self, name: str, size: tuple[int, int]) -> None:
        self.name, self.size = name, size
        h, w = size
        bars = np.array([[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0], [255, 0, 255], [255, 0, 0],
                         [0, 0, 255], [0, 0, 0]], dtype=np.uint8)  # fmt: skip
        self.base = bars[(np.arange(w) * len(bars)) // w][None, :, :].repeat(h, axis=0)
        self.n = 0

    def read(self) -> np.ndarray:
        frame = self.base.copy()
        h = self.size[0]
        row = self.n % h
        frame[row : row + max(1, h // 16)] = 128
        self.n += 1
        return frame

    def close(self) -> None:
        """Nothing to release."""


class OpenCVCamera:
    """cv2.VideoCapture on a device index or path, read on a capture thread that keeps only the newest
    frame, so the control tick never waits on a camera (nor gets a stale buffered frame): read() returns
    at once, or raises CameraError when no frame newer than read_timeout_s has arrived."""

    def __init__(self, name: str, cfg: CameraConfig, size: tuple[int, int]) -> None:
        self.name, self.size, self.cfg = name, size, cfg
        target: int | str = int(cfg.device) if cfg.device.isdigit() else cfg.device
        self.cap = cv2.VideoCapture(target)
        if not self.cap.isOpened():
            self.cap.release()
            raise CameraError(f"camera '{name}': cannot open {cfg.device!r} (cv2.VideoCapture); check "
                              "`v4l2-ctl --list-devices` or use source: test_pattern")  # fmt: skip
        if cfg.capture_size:
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.capture_size[0])
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.capture_size[1])
        self.lock = threading.Lock()
        self.newest: tuple[np.ndarray, float] | None = None  # (RGB frame at `size`, monotonic arrival)
        self.failures = 0  # capture reads that gave no frame
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._capture, name=f"camera-{name}", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + cfg.read_timeout_s
        while self.newest is None and time.monotonic() < deadline:  # fail now, not at the first tick
            time.sleep(0.005)
        try:
            self.read()
        except CameraError:
            self.close()
            raise

    def _capture(self) -> None:
        h, w = self.size
        while not self.stop.is_set():
            ok, frame = self.cap.read()
            if not ok or frame is None:
                self.failures += 1
                time.sleep(0.01)  # an unplugged camera: do not spin
                continue
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            if frame.shape[:2] != (h, w):
                frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
            with self.lock:
                self.newest = (np.ascontiguousarray(frame), time.monotonic())

    def read(self) -> np.ndarray:
        with self.lock:
            newest = self.newest
        if newest is None or time.monotonic() - newest[1] > self.cfg.read_timeout_s:
            age = "none yet" if newest is None else f"newest {time.monotonic() - newest[1]:.2f}s old"
            raise CameraError(f"camera '{self.name}' ({self.cfg.device!r}): no frame within "
                              f"{self.cfg.read_timeout_s}s ({age}, {self.failures} failed reads)")  # fmt: skip
        return newest[0]

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=2.0)
        self.cap.release()


def open_camera(name: str, cfg: CameraConfig, size: tuple[int, int]) -> Camera:
    """The camera the config selects."""
    if cfg.source == "test_pattern":
        return PatternCamera(name, size)
    return OpenCVCamera(name, cfg, size)
