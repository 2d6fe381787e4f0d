"""The k-step evaluation runs on the model's device whatever device the held-out batch comes from.

The model sits on the `meta` device: a CPU tensor reaching its weights raises, as with a CUDA model.
"""

import torch

from agent.world_model.config import ModelConfig
from agent.world_model.kstep import kstep_error_tensors
from agent.world_model.model import WorldModel


def test_kstep_errors_move_the_batch_to_the_model_device() -> None:
    cfg = ModelConfig(latent_tokens=4, latent_dim=8, proprio_dim=3, action_dim=2, proj_dim=4, dim=16, heads=2)
    model = WorldModel(cfg).to("meta").eval()
    steps = 3 + 2  # history + K
    batch = {"z": torch.rand(2, steps, 4, 8), "proprio": torch.rand(2, steps, 3), "action": torch.rand(2, steps, 2)}
    errs = kstep_error_tensors(model, batch, history=3, ks=[1, 2])  # CPU batch
    assert {"model_k2", "copy_k2", "shuffled_k1", "proprio_k1"} <= set(errs)
    assert all(v.device.type == "meta" for v in errs.values())
