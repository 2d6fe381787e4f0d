"""Guardrail costs for the planner: the safety constraints as batched, differentiable torch terms.

Each term is zero well inside its limit and grows quadratically within `band` of it (and beyond),
so adding them to a planning energy pushes candidate actions away from what safety would clamp.
"""

from __future__ import annotations

import torch

from agent.safety.config import SafetyConfig


def _soft_excess(x: torch.Tensor, band: float) -> torch.Tensor:
    """0 for x <= -band, then ((x + band) / band)^2: smooth, growing towards and beyond 0."""
    return (torch.relu(x + band) / band) ** 2


def joint_limit_cost(q: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, band: float = 0.2) -> torch.Tensor:
    """q [..., n_arm] joint positions -> [...] cost of coming within `band` rad of a limit."""
    return (_soft_excess(q - upper, band) + _soft_excess(lower - q, band)).sum(-1)


def speed_cost(v: torch.Tensor, vmax: torch.Tensor, band_frac: float = 0.2) -> torch.Tensor:
    """v [..., k] velocities -> [...] cost of exceeding (1 - band_frac) of each |limit|."""
    band = band_frac * vmax
    return ((torch.relu(v.abs() - vmax + band) / band) ** 2).sum(-1)


def box_distance(p: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Signed distance from points p [..., d] to boxes [m, d] -> [..., m] (negative inside)."""
    p = p.unsqueeze(-2)  # [..., 1, d]
    outside = torch.clamp(torch.maximum(lower - p, p - upper), min=0.0)
    inside = torch.clamp(torch.minimum(p - lower, upper - p).min(-1).values, min=0.0)
    return torch.sqrt((outside**2).sum(-1) + 1e-12) - inside


def obstacle_cost(p: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, margin: float) -> torch.Tensor:
    """Points p [..., d] (tool centre in 3-D, base in 2-D) -> [...] cost of being within margin of boxes."""
    if lower.numel() == 0:
        return p.new_zeros(p.shape[:-1])
    return _soft_excess(-box_distance(p, lower, upper), margin).sum(-1)


class Guardrails:
    """The safety config's limits as one callable cost over a batch of planned states and actions."""

    def __init__(
        self,
        cfg: SafetyConfig,
        zones_lower: torch.Tensor,
        zones_upper: torch.Tensor,
        obstacles_lower: torch.Tensor,
        obstacles_upper: torch.Tensor,
    ) -> None:
        m = cfg.arm.margin
        self.lower = torch.tensor(cfg.arm.lower, dtype=torch.float32) + m
        self.upper = torch.tensor(cfg.arm.upper, dtype=torch.float32) - m
        self.arm_vmax = torch.tensor(cfg.arm.max_vel, dtype=torch.float32)
        self.base_vmax = torch.tensor(cfg.base.max_vel, dtype=torch.float32)
        self.zones = (zones_lower.float(), zones_upper.float())  # [z, 3] tool keep-out boxes
        self.obstacles = (obstacles_lower.float(), obstacles_upper.float())  # [o, 2] footprints
        self.clearance = cfg.base.radius + cfg.separation.slow_distance
        self.zone_margin = cfg.workspace.keepout_margin

    def __call__(
        self,
        q: torch.Tensor,
        arm_vel: torch.Tensor,
        base_vel: torch.Tensor,
        base_xy: torch.Tensor,
        tcp: torch.Tensor,
    ) -> torch.Tensor:
        """q, arm_vel [..., n]; base_vel [..., 3]; base_xy [..., 2]; tcp [..., 3] -> cost [...]."""
        return (
            joint_limit_cost(q, self.lower, self.upper)
            + speed_cost(arm_vel, self.arm_vmax)
            + speed_cost(base_vel, self.base_vmax)
            + obstacle_cost(base_xy, *self.obstacles, self.clearance)
            + obstacle_cost(tcp, *self.zones, self.zone_margin)
        )
