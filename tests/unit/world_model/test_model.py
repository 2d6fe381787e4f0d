"""WorldModel shapes, frame causality, rollout feeding its own predictions, config checks."""

from __future__ import annotations

import pytest
import torch

from agent.runtime.config import ConfigError
from agent.world_model.config import ModelConfig, config_from_dict
from agent.world_model.model import WorldModel

CFG = ModelConfig(
    latent_tokens=4, latent_dim=6, proprio_dim=3, action_dim=2, proj_dim=5, dim=16, depth=2, heads=2, context=4
)


def _model() -> WorldModel:
    torch.manual_seed(0)
    model = WorldModel(CFG)
    torch.nn.init.normal_(model.head.weight, std=0.1)  # zero at init (copy-last): make outputs depend on inputs
    return model.eval()


def _window(b: int, t: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, t, 4, 6, generator=g), torch.randn(b, t, 3, generator=g), torch.randn(b, t, 2, generator=g)


def test_shapes() -> None:
    model = _model()
    z, s, a = _window(2, 4)
    p = model.encode(z)
    assert p.shape == (2, 4, 5)  # [B, T, P]
    p_next, s_next = model.predict(p, s, a)
    assert p_next.shape == (2, 4, 5) and s_next.shape == (2, 4, 3)
    p_ro, s_ro = model.rollout(p, s, a[:, :3], torch.randn(2, 7, 2))  # H = 7 > context: history slides
    assert p_ro.shape == (2, 7, 5) and s_ro.shape == (2, 7, 3)
    assert model.decode(z[:, -1], p[:, -1], p_ro).shape == (2, 7, 4, 6)  # [B, H, tokens, D]
    terms = model.loss(*_window(2, 5), k=2)
    assert set(terms) == {"tf_latent", "tf_proprio", "ro_latent", "ro_proprio", "loss"}


def test_a_later_step_never_changes_earlier_predictions() -> None:
    model = _model()
    z, s, a = _window(1, 4)
    p = model.encode(z)
    before = model.predict(p, s, a)
    for t in range(4):
        p2, s2, a2 = p.clone(), s.clone(), a.clone()
        p2[:, t] += 1.0
        s2[:, t] += 1.0
        a2[:, t] += 1.0
        after = model.predict(p2, s2, a2)
        for x, y in zip(before, after, strict=True):
            assert torch.equal(x[:, :t], y[:, :t]), t  # past positions untouched
            assert not torch.allclose(x[:, t], y[:, t]), t  # the changed step itself does matter


def test_rollout_feeds_its_own_predictions_and_uses_the_actions() -> None:
    model = _model()
    z, s, a = _window(1, 2)
    p = model.encode(z)
    plan = torch.randn(1, 3, 2)
    p_ro, s_ro = model.rollout(p, s, a[:, :1], plan)
    p1, s1 = model.predict(p, s, torch.cat([a[:, :1], plan[:, :1]], 1))
    assert torch.allclose(p_ro[:, 0], p1[:, -1]) and torch.allclose(s_ro[:, 0], s1[:, -1])
    p2, _ = model.predict(
        torch.cat([p, p1[:, -1:]], 1), torch.cat([s, s1[:, -1:]], 1), torch.cat([a[:, :1], plan[:, :2]], 1)
    )
    assert torch.allclose(p_ro[:, 1], p2[:, -1], atol=1e-6)
    other, _ = model.rollout(p, s, a[:, :1], plan.flip(1))
    assert not torch.allclose(other, p_ro)


def test_untrained_model_is_copy_last() -> None:
    model = WorldModel(CFG)
    z, s, a = _window(2, 3)
    p = model.encode(z)
    p_ro, s_ro = model.rollout(p, s, a[:, :2], torch.randn(2, 4, 2))
    assert torch.allclose(model.decode(z[:, -1], p[:, -1], p_ro), z[:, -1:].expand(-1, 4, -1, -1))
    assert torch.allclose(s_ro, s[:, -1:].expand(-1, 4, -1))


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"dim=30 is not divisible by heads=4"):
        config_from_dict({"model": {"dim": 30}}, "wm.yaml")
    with pytest.raises(ConfigError, match=r"wm\.yaml: unknown key 'model\.latent_width'"):
        config_from_dict({"model": {"latent_width": 6144}}, "wm.yaml")
    with pytest.raises(ConfigError, match=r"train.rollout=8 must be < model.context=8"):
        config_from_dict({"train": {"rollout": 8}}, "wm.yaml")
