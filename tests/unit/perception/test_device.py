"""Device handling: library code runs on the model's device whatever device its inputs come from.

The model is put on the `meta` device (shapes only, no data): a CPU tensor reaching its weights raises
"Expected all tensors to be on the same device", exactly as a CUDA model fed CPU clips does.
"""

import pytest
import torch

from agent.perception.evaluate import prediction_loss_tensors
from agent.perception.masking import MaskSampler, mask_specs
from agent.perception.model import VJEPA
from agent.perception.train import setup_distributed


def test_embed_moves_cpu_clips_to_the_model_device(make_config) -> None:
    model = VJEPA(make_config().encoder).to("meta").eval()
    z = model.embed(torch.rand(2, 4, 3, 32, 32))  # CPU clips
    assert z.device.type == "meta" and z.shape == (2, 16, 32)  # [B, H'*W', D]


def test_prediction_losses_move_clips_and_masks_to_the_model_device(make_config) -> None:
    cfg = make_config(max_temporal_keep=0.5, short_blocks=0, long_blocks=0)
    model = VJEPA(cfg.encoder).to("meta").eval()
    masks = MaskSampler(cfg.encoder.grid, mask_specs(cfg.train), seed=0)(3)  # CPU index tensors
    l1 = prediction_loss_tensors(model, torch.rand(5, 4, 3, 32, 32), torch.rand(3, 4, 3, 32, 32), masks)
    assert set(l1) == {"model", "mean", "median"}
    assert all(v.device.type == "meta" and v.shape == () for v in l1.values())


def test_training_device_is_explicit(device: torch.device) -> None:
    assert setup_distributed("cpu").device == torch.device("cpu")  # even on a machine with a GPU
    assert setup_distributed(str(device)).device.type == device.type


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_asking_for_cuda_without_one_names_the_key() -> None:
    with pytest.raises(ValueError, match=r"train.device='cuda'.*0 CUDA device"):
        setup_distributed("cuda")
