"""VJEPA shapes, EMA update and that a few optimisation steps lower the loss."""

import torch

from agent.perception.masking import MaskSampler, mask_specs
from agent.perception.model import VJEPA


def test_shapes(make_config, clips) -> None:
    cfg = make_config()
    model = VJEPA(cfg.encoder)
    clip = torch.stack([clips[i]["clip"] for i in range(3)])  # [3, 4, 3, 32, 32]
    assert model.encode(clip).shape == (3, cfg.encoder.num_tokens, 32)
    assert model.embed(clip).shape == (3, 16, 32)  # [B, H'*W', D]
    masks = MaskSampler(cfg.encoder.grid, mask_specs(cfg.train))(3)
    assert model.loss(clip, masks).ndim == 0


def test_learned_pos_embed_is_a_parameter(make_config) -> None:
    cfg = make_config()
    cfg = type(cfg)(encoder=type(cfg.encoder)(**{**cfg.encoder.__dict__, "pos_embed": "learned"}))
    names = {n for n, _ in VJEPA(cfg.encoder).named_parameters()}
    assert "encoder.pos" in names and "predictor.pos" in names


def test_ema_moves_target_towards_encoder(make_config) -> None:
    model = VJEPA(make_config().encoder)
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)
    before = [p.clone() for p in model.target.parameters()]
    model.update_target(0.9)
    for b, t, e in zip(before, model.target.parameters(), model.encoder.parameters(), strict=True):
        assert torch.allclose(t, 0.9 * b + 0.1 * e)
    assert not any(p.requires_grad for p in model.target.parameters())


def test_few_steps_lower_loss_on_fixed_batch(make_config, clips) -> None:
    torch.manual_seed(0)
    cfg = make_config()
    model = VJEPA(cfg.encoder)
    clip = torch.stack([clips[i]["clip"] for i in range(8)])
    masks = MaskSampler(cfg.encoder.grid, mask_specs(cfg.train))(8)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3, weight_decay=0.0)
    first = model.loss(clip, masks).item()
    for _ in range(25):
        loss = model.loss(clip, masks)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.update_target(0.998)
    assert model.loss(clip, masks).item() < 0.75 * first
