"""Action-conditioned latent predictor (V-JEPA 2-AC spirit, CPU-sized): a frame-causal transformer
over a short history of (projected latent, proprio, action) steps predicting the next step.

The encoder's latent grid [tokens, D] is projected by a learned linear map to `proj_dim` numbers;
the dynamics run there (what a planner rolls out). A prediction is read back in latent space as the
last seen latent plus the decoded change, z_last + unproj(p_pred - p_last), so the L1 loss lives in
the encoder's latent space and copy-the-last-latent is the model with a zero change.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from agent.perception.model import Block
from agent.world_model.config import ModelConfig


class WorldModel(nn.Module):
    """encode: latent grid -> projection; predict: one step for every history position;
    rollout: several steps fed its own predictions; decode: projections back to latent grids."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg
        self.proj = nn.Linear(c.latent_width, c.proj_dim)
        self.unproj = nn.Linear(c.proj_dim, c.latent_width, bias=False)
        self.inp = nn.Linear(c.proj_dim + c.proprio_dim + c.action_dim, c.dim)
        self.pos = nn.Parameter(torch.zeros(c.context, c.dim))
        self.blocks = nn.ModuleList(Block(c.dim, c.heads, c.mlp_ratio, causal=True) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, c.proj_dim + c.proprio_dim)
        nn.init.trunc_normal_(self.pos, std=0.02)
        nn.init.zeros_(self.head.weight)  # starts as copy-last: zero change
        nn.init.zeros_(self.head.bias)
        # normalisation of proprio and action (set_stats from training data; saved with the weights)
        for name, n in (("proprio", c.proprio_dim), ("action", c.action_dim)):
            self.register_buffer(f"{name}_mean", torch.zeros(n))
            self.register_buffer(f"{name}_std", torch.ones(n))

    def set_stats(self, proprio: Tensor, action: Tensor) -> None:
        """Normalisation from training rows: proprio [M, S], action [M, A] (std floored at 1e-3)."""
        for name, x in (("proprio", proprio), ("action", action)):
            getattr(self, f"{name}_mean").copy_(x.mean(0))
            getattr(self, f"{name}_std").copy_(x.std(0).clamp(min=1e-3))

    @torch.no_grad()
    def init_projection(self, dz: Tensor) -> None:
        """Start proj and unproj at the top principal directions of latent changes dz [M, tokens, D]
        (the directions in which things move), so training starts from a projection that sees motion."""
        x = dz.flatten(1).float()  # [M, W]
        _, _, v = torch.linalg.svd(x - x.mean(0), full_matrices=False)  # v [min(M, W), W]
        basis = v[: self.cfg.proj_dim]  # [P', W], P' <= P when M is small
        self.proj.weight.zero_()
        self.proj.weight[: len(basis)] = basis
        self.proj.bias.zero_()
        self.unproj.weight.copy_(self.proj.weight.T)

    def encode(self, z: Tensor) -> Tensor:
        """Latent grids [..., tokens, D] -> projections [..., P]."""
        return self.proj(z.flatten(-2))

    def decode(self, z_last: Tensor, p_last: Tensor, p: Tensor) -> Tensor:
        """Latent grids [B, H, tokens, D] of projections p [B, H, P], relative to the last seen
        latent z_last [B, tokens, D] whose projection is p_last [B, P]."""
        dz = self.unproj(p - p_last[:, None])  # [B, H, tokens * D]
        return z_last[:, None] + dz.view(*p.shape[:2], *z_last.shape[1:])

    def predict(self, p: Tensor, s: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        """Next step after every position: p [B, T, P], proprio s [B, T, S], action a [B, T, A] ->
        (p_next [B, T, P], s_next [B, T, S]); output t sees steps <= t only (T <= context)."""
        sn = (s - self.proprio_mean) / self.proprio_std
        an = (a - self.action_mean) / self.action_std
        x = self.inp(torch.cat([p, sn, an], dim=-1)) + self.pos[: p.shape[1]]  # [B, T, dim]
        for blk in self.blocks:
            x = blk(x)
        dp, ds = self.head(self.norm(x)).split([self.cfg.proj_dim, self.cfg.proprio_dim], dim=-1)
        return p + dp, s + ds * self.proprio_std

    def rollout(self, p: Tensor, s: Tensor, a: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Predict H steps from a history fed back its own predictions.

        History: p [B, c, P], s [B, c, S] and the actions taken between them a [B, c-1, A];
        actions [B, H, A] from the last seen step on. Returns (p [B, H, P], s [B, H, S]). The
        history is cut to the last `context` steps as it grows.
        """
        ctx = self.cfg.context
        ps, ss, acts = p, s, a
        out_p, out_s = [], []
        for h in range(actions.shape[1]):
            acts = torch.cat([acts, actions[:, h : h + 1]], dim=1)  # [B, c + h, A]
            ps, ss, acts = ps[:, -ctx:], ss[:, -ctx:], acts[:, -ctx:]
            p_next, s_next = self.predict(ps, ss, acts)
            out_p.append(p_next[:, -1])
            out_s.append(s_next[:, -1])
            ps = torch.cat([ps, p_next[:, -1:]], dim=1)
            ss = torch.cat([ss, s_next[:, -1:]], dim=1)
        return torch.stack(out_p, 1), torch.stack(out_s, 1)

    def loss(self, z: Tensor, s: Tensor, a: Tensor, k: int, proprio_weight: float = 1.0) -> dict[str, Tensor]:
        """Teacher-forcing + k-step rollout L1 on one window of T = context + 1 steps.

        z [B, T, tokens, D], s [B, T, S], a [B, T, A] (a[:, t] is taken after step t; the last is
        unused). Teacher forcing predicts steps 1..T-1 from the true history; the rollout starts from
        the first T-k true steps and predicts the last k steps from its own outputs.
        """
        p = self.encode(z)  # [B, T, P]
        p_tf, s_tf = self.predict(p[:, :-1], s[:, :-1], a[:, :-1])  # [B, T-1, P], [B, T-1, S]
        dz = self.unproj(p_tf - p[:, :-1]).view_as(z[:, 1:])  # change of each step, [B, T-1, tokens, D]
        terms = {"tf_latent": (z[:, :-1] + dz - z[:, 1:]).abs().mean()}
        terms["tf_proprio"] = ((s_tf - s[:, 1:]) / self.proprio_std).abs().mean()
        if k > 0:
            c = z.shape[1] - k  # true history steps
            p_ro, s_ro = self.rollout(p[:, :c], s[:, :c], a[:, : c - 1], a[:, c - 1 : -1])  # [B, k, ...]
            z_ro = self.decode(z[:, c - 1], p[:, c - 1], p_ro)  # [B, k, tokens, D]
            terms["ro_latent"] = (z_ro - z[:, c:]).abs().mean()
            terms["ro_proprio"] = ((s_ro - s[:, c:]) / self.proprio_std).abs().mean()
        latent = sum(v for name, v in terms.items() if name.endswith("latent"))
        proprio = sum(v for name, v in terms.items() if name.endswith("proprio"))
        terms["loss"] = latent + proprio_weight * proprio
        return terms
