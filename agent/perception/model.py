"""V-JEPA video encoder: tubelet ViT, EMA target encoder and a narrow predictor in latent space."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from agent.perception.config import EncoderConfig


def sincos_1d(dim: int, pos: Tensor) -> Tensor:
    """Sine/cosine embedding [M, dim] of integer positions [M]."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angle = pos.double()[:, None] * omega[None]  # [M, dim/2]
    return torch.cat([angle.sin(), angle.cos()], dim=1).float()


def sincos_3d(dim: int, grid: tuple[int, int, int]) -> Tensor:
    """Fixed 3D embedding [N, dim] over the (T', H', W') grid: half time, a quarter each axis."""
    t, h, w = torch.meshgrid(*(torch.arange(n) for n in grid), indexing="ij")
    parts = [(dim // 2, t), (dim // 4, h), (dim // 4, w)]
    return torch.cat([sincos_1d(d, p.flatten()) for d, p in parts], dim=1)


def gather_tokens(x: Tensor, idx: Tensor) -> Tensor:
    """Pick tokens: x [B, N, D], idx [B, K] -> [B, K, D]."""
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


# Pixel normalisation applied inside the model (ImageNet statistics, as V-JEPA's transforms).
PIXEL_MEAN = (0.485, 0.456, 0.406)
PIXEL_STD = (0.229, 0.224, 0.225)


class PatchEmbed3d(nn.Module):
    """Clip [B, T, C, H, W] in [0, 1] -> tokens [B, N, D]: normalise, Conv3d over tubelets."""

    def __init__(self, dim: int, tubelet: int, patch: int, channels: int = 3):
        super().__init__()
        k = (tubelet, patch, patch)
        self.proj = nn.Conv3d(channels, dim, kernel_size=k, stride=k)
        self.register_buffer("mean", torch.tensor(PIXEL_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(PIXEL_STD).view(3, 1, 1), persistent=False)

    def forward(self, clip: Tensor) -> Tensor:
        x = (clip - self.mean) / self.std  # [B, T, 3, H, W]
        x = self.proj(x.transpose(1, 2))  # [B, D, T', H', W']
        return x.flatten(2).transpose(1, 2)  # [B, N, D], N = T' * H' * W' (time-major)


class Block(nn.Module):
    """Pre-norm transformer block: self-attention + GELU MLP; causal: a token sees only itself and earlier ones."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, causal: bool = False):
        super().__init__()
        self.heads = heads
        self.causal = causal
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        qkv = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [B, heads, N, D/heads]
        a = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)  # [B, heads, N, D/heads]
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


def _add_pos_embed(module: nn.Module, dim: int, grid: tuple[int, int, int], kind: str) -> None:
    """Attach `pos` [N, dim]: a fixed sincos buffer, or a parameter initialised from it."""
    pos = sincos_3d(dim, grid)
    if kind == "learned":
        module.pos = nn.Parameter(pos)
    else:
        module.register_buffer("pos", pos, persistent=False)


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, (nn.Linear, nn.Conv3d)):
        nn.init.trunc_normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)


class VideoViT(nn.Module):
    """Context/target encoder: clip [B, T, 3, H, W] -> tokens [B, N or K, D]."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.patch_embed = PatchEmbed3d(cfg.dim, cfg.tubelet, cfg.patch)
        _add_pos_embed(self, cfg.dim, cfg.grid, cfg.pos_embed)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.apply(_init_weights)

    def forward(self, clip: Tensor, keep: Tensor | None = None) -> Tensor:
        """All tokens, or only those at `keep` [B, K] (the visible context)."""
        x = self.patch_embed(clip) + self.pos  # [B, N, D]
        if keep is not None:
            x = gather_tokens(x, keep)  # [B, K, D]
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


class Predictor(nn.Module):
    """Narrow transformer: context tokens + positioned mask tokens -> features at the targets."""

    def __init__(self, cfg: EncoderConfig, num_mask_tokens: int = 2):
        super().__init__()
        self.embed = nn.Linear(cfg.dim, cfg.pred_dim)
        self.mask_tokens = nn.Parameter(torch.zeros(num_mask_tokens, cfg.pred_dim))
        _add_pos_embed(self, cfg.pred_dim, cfg.grid, cfg.pos_embed)
        self.blocks = nn.ModuleList(Block(cfg.pred_dim, cfg.pred_heads, cfg.mlp_ratio) for _ in range(cfg.pred_depth))
        self.norm = nn.LayerNorm(cfg.pred_dim)
        self.out = nn.Linear(cfg.pred_dim, cfg.dim)
        self.apply(_init_weights)
        nn.init.trunc_normal_(self.mask_tokens, std=0.02)

    def forward(self, ctx: Tensor, ctx_idx: Tensor, tgt_idx: Tensor, mask_type: int = 0) -> Tensor:
        """ctx [B, Nc, D] at ctx_idx [B, Nc]; returns predictions [B, Nt, D] at tgt_idx [B, Nt]."""
        x = self.embed(ctx) + self.pos[ctx_idx]  # [B, Nc, Dp]
        m = self.mask_tokens[mask_type] + self.pos[tgt_idx]  # [B, Nt, Dp]
        x = torch.cat([x, m], dim=1)  # [B, Nc + Nt, Dp]
        for blk in self.blocks:
            x = blk(x)
        return self.out(self.norm(x[:, ctx.shape[1] :]))  # [B, Nt, D]


class VJEPA(nn.Module):
    """Context encoder, EMA target encoder and predictor; forward(clip, masks) is the loss."""

    def __init__(self, cfg: EncoderConfig, num_mask_types: int = 2):
        super().__init__()
        self.cfg = cfg
        self.encoder = VideoViT(cfg)
        self.target = copy.deepcopy(self.encoder).requires_grad_(False)
        self.predictor = Predictor(cfg, num_mask_types)

    def forward(self, clip: Tensor, masks: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
        return self.loss(clip, masks)

    @property
    def device(self) -> torch.device:
        """Where the weights live; encode/embed move their input here."""
        return self.predictor.mask_tokens.device

    def loss(self, clip: Tensor, masks: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
        """Mean L1 between predictions and layer-normed target features at masked tokens.

        clip [B, T, 3, H, W]; masks: one (context [B, Nc], target [B, Nt]) pair per mask type.
        """
        with torch.no_grad():
            h = self.target(clip)  # [B, N, D]
            h = F.layer_norm(h, (h.shape[-1],))
        losses = []
        for i, (ctx_idx, tgt_idx) in enumerate(masks):
            z = self.encoder(clip, ctx_idx)  # [B, Nc, D]
            pred = self.predictor(z, ctx_idx, tgt_idx, i)  # [B, Nt, D]
            losses.append((pred - gather_tokens(h, tgt_idx)).abs().mean())
        return torch.stack(losses).mean()

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """EMA step: target <- momentum * target + (1 - momentum) * encoder."""
        target, online = list(self.target.parameters()), [p.detach() for p in self.encoder.parameters()]
        torch._foreach_lerp_(target, online, 1.0 - momentum)  # one fused call, not one per tensor

    @torch.no_grad()
    def encode(self, clip: Tensor) -> Tensor:
        """Frozen target-encoder tokens: clip [B, T, 3, H, W] (any device) -> [B, N, D] on the model's device."""
        return self.target(clip.to(self.device))

    @torch.no_grad()
    def embed(self, clip: Tensor) -> Tensor:
        """What the perception node publishes: target tokens averaged over time, [B, H'*W', D].

        Keeps the spatial layout (a mean over all tokens loses where things are; docs/perception.md).
        """
        t, h, w = self.cfg.grid
        z = self.encode(clip)  # [B, N, D], N = T' * H' * W' (time-major)
        return z.view(z.shape[0], t, h * w, z.shape[-1]).mean(1)  # [B, H'*W', D]
