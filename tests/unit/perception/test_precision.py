"""Training precision and compile options: bf16 autocast really runs the matmuls in bf16, fp32 weights stay."""

import os
from pathlib import Path

import pytest
import torch

from agent.perception.config import config_from_dict
from agent.perception.masking import MaskSampler, mask_specs
from agent.perception.model import VJEPA
from agent.perception.train import lr_factor, param_groups, train, train_step


def test_unknown_precision_or_device_names_the_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"precision='fp16': allowed values \('fp32', 'bf16'\)"):
        config_from_dict({"train": {"precision": "fp16"}}, "m.yaml")
    with pytest.raises(ValueError, match=r"device='gpu': allowed values \('auto', 'cpu', 'cuda'\)"):
        config_from_dict({"train": {"device": "gpu"}}, "m.yaml")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_train_step_runs_the_model_in_the_configured_precision(make_config, device, precision: str) -> None:
    tc = make_config(precision=precision).train
    torch.manual_seed(0)
    model = VJEPA(make_config().encoder).to(device)
    opt = torch.optim.AdamW(param_groups(model, tc.weight_decay), lr=tc.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(tc))
    masks = MaskSampler(model.cfg.grid, mask_specs(tc), seed=0)
    seen: list[torch.dtype] = []
    model.predictor.out.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    loss = train_step(model, model, opt, sched, masks, torch.rand(4, 4, 3, 32, 32, device=device), 0, tc)
    assert torch.isfinite(loss) and loss.dtype == torch.float32
    assert set(seen) == {torch.bfloat16 if precision == "bf16" else torch.float32}
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights, optimizer and EMA stay fp32


@pytest.mark.skipif(
    os.environ.get("AMIBOT_TEST_DEVICE", "cpu") == "cpu" and not os.environ.get("AMIBOT_TEST_COMPILE"),
    reason="torch.compile of two steps takes ~100 s on a 2-core CPU; AMIBOT_TEST_DEVICE=cuda or AMIBOT_TEST_COMPILE=1",
)
def test_compiled_training_runs(make_config, clips, tmp_path: Path) -> None:
    model = train(make_config(steps=2, compile=True, probe_every=0), clips, tmp_path / "run", progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert (tmp_path / "run" / "checkpoint.pt").exists()  # saved from the plain module, not the compiled one
