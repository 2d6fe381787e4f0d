"""Occupancy grid of the floor plan and A* path planning for the base."""

from __future__ import annotations

import heapq

import numpy as np

from sim.layout import Box, Layout

RESOLUTION = 0.05  # m per cell
APPROACH_STANDOFF = 0.21  # base centre to a receptacle's access edge when manipulating, m
PRE_APPROACH = 0.45  # where A* hands over to the straight final approach, m


class OccupancyGrid:
    """Boolean grid over the apartment; obstacles inflated by the robot's planning radius."""

    def __init__(self, layout: Layout, radius: float, res: float = RESOLUTION) -> None:
        self.res = res
        self.nx = int(np.ceil(layout.width / res))
        self.ny = int(np.ceil(layout.depth / res))
        xs = (np.arange(self.nx) + 0.5) * res
        ys = (np.arange(self.ny) + 0.5) * res
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        self.occ = np.zeros((self.nx, self.ny), dtype=bool)
        for b in layout.boxes:
            dx = np.maximum(np.abs(gx - b.center[0]) - b.half[0], 0.0)
            dy = np.maximum(np.abs(gy - b.center[1]) - b.half[1], 0.0)
            self.occ |= np.hypot(dx, dy) < radius
        self.occ[[0, -1], :] = True
        self.occ[:, [0, -1]] = True

    def cell(self, xy: np.ndarray) -> tuple[int, int]:
        i = int(np.clip(xy[0] / self.res, 0, self.nx - 1))
        j = int(np.clip(xy[1] / self.res, 0, self.ny - 1))
        return i, j

    def point(self, c: tuple[int, int]) -> np.ndarray:
        return (np.array(c, dtype=float) + 0.5) * self.res

    def free(self, xy: np.ndarray) -> bool:
        return not self.occ[self.cell(xy)]

    def nearest_free(self, xy: np.ndarray) -> np.ndarray:
        """Centre of the free cell closest to `xy`."""
        free = np.argwhere(~self.occ)
        d = np.hypot(*(self.point(free.T).T - np.asarray(xy)[:2]).T)
        return self.point(tuple(free[int(np.argmin(d))]))

    def line_free(self, a: np.ndarray, b: np.ndarray) -> bool:
        n = int(np.ceil(np.linalg.norm(b - a) / (self.res / 2))) + 1
        return all(self.free(a + (b - a) * t) for t in np.linspace(0.0, 1.0, n))

    def plan(self, start: np.ndarray, goal: np.ndarray) -> list[np.ndarray] | None:
        """Shortcut-smoothed A* path of waypoints from start to goal (both snapped to free)."""
        s = self.cell(start if self.free(start) else self.nearest_free(start))
        g = self.cell(goal if self.free(goal) else self.nearest_free(goal))
        cells = self._astar(s, g)
        if cells is None:
            return None
        pts = [np.asarray(start[:2], dtype=float)] + [self.point(c) for c in cells[1:]]
        return self._shortcut(pts)

    def path_length(self, start: np.ndarray, goal: np.ndarray) -> float:
        path = self.plan(start, goal)
        if path is None:
            return float("inf")
        path = path + [np.asarray(goal[:2], dtype=float)]
        return float(sum(np.linalg.norm(b - a) for a, b in zip(path[:-1], path[1:], strict=True)))

    def _astar(self, s: tuple[int, int], g: tuple[int, int]) -> list[tuple[int, int]] | None:
        moves = [
            (1, 0, 1.0),
            (-1, 0, 1.0),
            (0, 1, 1.0),
            (0, -1, 1.0),
            (1, 1, 1.414),
            (1, -1, 1.414),
            (-1, 1, 1.414),
            (-1, -1, 1.414),
        ]
        cost = {s: 0.0}
        parent: dict[tuple[int, int], tuple[int, int]] = {}
        heap = [(0.0, s)]
        while heap:
            _, c = heapq.heappop(heap)
            if c == g:
                path = [c]
                while c in parent:
                    c = parent[c]
                    path.append(c)
                return path[::-1]
            for di, dj, w in moves:
                n = (c[0] + di, c[1] + dj)
                if not (0 <= n[0] < self.nx and 0 <= n[1] < self.ny) or self.occ[n]:
                    continue
                nc = cost[c] + w
                if nc < cost.get(n, np.inf):
                    cost[n], parent[n] = nc, c
                    h = np.hypot(n[0] - g[0], n[1] - g[1])
                    heapq.heappush(heap, (nc + h, n))
        return None

    def _shortcut(self, pts: list[np.ndarray]) -> list[np.ndarray]:
        out, i = [pts[0]], 0
        while i < len(pts) - 1:
            j = len(pts) - 1
            while j > i + 1 and not self.line_free(pts[i], pts[j]):
                j -= 1
            out.append(pts[j])
            i = j
        return out


def approach_pose(rec: Box, xy: tuple[float, float], standoff: float = APPROACH_STANDOFF) -> np.ndarray:
    """Base pose (x, y, yaw) facing `rec`'s access edge, laterally aligned with point `xy`."""
    ax, ay = rec.access
    half_depth = abs(ax) * rec.half[0] + abs(ay) * rec.half[1]
    along = np.array([-ay, ax])
    t = float(np.dot(np.asarray(xy) - np.array(rec.center[:2]), along))
    edge = np.array(rec.center[:2]) + np.array([ax, ay]) * half_depth + along * t
    pos = edge + np.array([ax, ay]) * standoff
    return np.array([pos[0], pos[1], np.arctan2(-ay, -ax)])
