"""Omniwheel kinematics and odometry, and camera sources."""

from __future__ import annotations

import math
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware.cameras import CameraConfig, CameraError, PatternCamera, open_camera
from hardware.kinematics import OmniKinematics, integrate


def test_wheel_speeds_and_twist_are_inverse() -> None:
    kin = OmniKinematics([90.0, 210.0, 330.0], 0.125, 0.05)
    rng = np.random.default_rng(0)
    for twist in rng.uniform(-1, 1, size=(20, 3)):
        assert np.allclose(kin.twist(kin.wheel_speeds(twist)), twist)
    spin = kin.wheel_speeds([0.0, 0.0, 1.0])
    assert np.allclose(spin, 0.125 / 0.05)  # pure rotation: every wheel the same way
    fwd = kin.wheel_speeds([0.2, 0.0, 0.0])
    assert fwd[0] == pytest.approx(-4.0) and fwd[1] == pytest.approx(2.0) and fwd[2] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="cannot move in every direction"):
        OmniKinematics([0.0, 0.0, 180.0], 0.125, 0.05)


def test_odometry_integrates_lines_and_arcs() -> None:
    pose = np.zeros(3)
    for _ in range(10):
        pose = integrate(pose, np.array([0.2, 0.0, 0.0]), 0.1)
    assert np.allclose(pose, [0.2, 0.0, 0.0])
    pose = np.zeros(3)
    for _ in range(100):  # a quarter circle at 1 m/s, turning pi/2 rad/s
        pose = integrate(pose, np.array([1.0, 0.0, math.pi / 2]), 0.01)
    radius = 1.0 / (math.pi / 2)
    assert np.allclose(pose, [radius, radius, math.pi / 2], atol=1e-3)


def test_test_pattern_changes_every_frame() -> None:
    cam = PatternCamera("head", (48, 64))
    a, b = cam.read(), cam.read()
    assert a.shape == (48, 64, 3) and a.dtype == np.uint8 and not np.array_equal(a, b)


def test_opencv_camera_reads_a_video_file_and_names_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (80, 60))
    assert out.isOpened()
    for i in range(5):
        frame = np.zeros((60, 80, 3), np.uint8)
        frame[..., 2] = 200  # red in BGR
        frame[:, : 10 * (i + 1)] = 0
        out.write(frame)
    out.release()
    cam = open_camera("wrist", CameraConfig(source="opencv", device=str(path), read_timeout_s=0.5), (32, 32))
    try:
        deadline, black = time.monotonic() + 5, -1
        while time.monotonic() < deadline and not 18 <= black <= 22:  # until the capture thread has the last frame
            img = cam.read()
            assert img.shape == (32, 32, 3) and img[..., 0].max() > 150 > img[..., 2].max()  # converted to RGB
            black = (img[..., 0] < 60).all(axis=0).sum()  # the last frame: 50 of 80 columns black
        assert 18 <= black <= 22, black
        time.sleep(0.7)  # the file has ended: no new frame arrives, and read() says so at once
        start = time.monotonic()
        with pytest.raises(CameraError, match=r"camera 'wrist'.*no frame within 0.5s"):
            cam.read()
        assert time.monotonic() - start < 0.4, "read() waited for a frame: it must never block the control tick"
    finally:
        cam.close()
    assert not cam.thread.is_alive()
    with pytest.raises(CameraError, match=r"camera 'head': cannot open '/dev/video97'"):
        open_camera("head", CameraConfig(source="opencv", device="/dev/video97"), (32, 32))
