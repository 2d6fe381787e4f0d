"""Three-omniwheel base kinematics: body twist <-> wheel speeds, and odometry from wheel speeds."""

from __future__ import annotations

import math

import numpy as np


class OmniKinematics:
    """Wheels at angles theta_i [deg] around the centre, at base_radius [m], rolling tangentially."""

    def __init__(self, wheel_angles_deg: list[float], base_radius: float, wheel_radius: float) -> None:
        th = np.radians(np.asarray(wheel_angles_deg, dtype=float))
        # wheel i rim speed = -sin(th) vx + cos(th) vy + R wz   ->  w = J @ [vx, vy, wz]   [rad/s]
        self.J = np.stack([-np.sin(th), np.cos(th), np.full_like(th, base_radius)], axis=1) / wheel_radius
        if abs(np.linalg.det(self.J)) < 1e-9:
            raise ValueError(f"wheel angles {wheel_angles_deg}: the base cannot move in every direction")
        self.J_inv = np.linalg.inv(self.J)

    def wheel_speeds(self, twist: np.ndarray) -> np.ndarray:
        """[vx, vy, wz] (robot frame) -> wheel angular speeds [rad/s]."""
        return self.J @ np.asarray(twist, dtype=float)

    def twist(self, wheel_speeds: np.ndarray) -> np.ndarray:
        """Wheel angular speeds [rad/s] -> [vx, vy, wz] (robot frame)."""
        return self.J_inv @ np.asarray(wheel_speeds, dtype=float)


def integrate(pose: np.ndarray, twist: np.ndarray, dt: float) -> np.ndarray:
    """Odometry: advance (x, y, yaw) by a robot-frame twist held for dt (midpoint heading)."""
    x, y, yaw = pose
    vx, vy, wz = twist
    mid = yaw + 0.5 * wz * dt  # midpoint heading
    new_yaw = math.atan2(math.sin(yaw + wz * dt), math.cos(yaw + wz * dt))
    return np.array([x + (vx * math.cos(mid) - vy * math.sin(mid)) * dt,
                     y + (vx * math.sin(mid) + vy * math.cos(mid)) * dt, new_yaw])  # fmt: skip
