"""The perception node: camera observations in, V-JEPA latents of the latest clip out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from agent.perception.checkpoint import CHECKPOINT
from agent.perception.config import load_config
from agent.perception.inference import ClipEncoder, checkpoint_config, encoder_mismatch
from agent.resources import resolve
from agent.runtime.messages import Latent, Observation
from agent.runtime.node import Node, NodeConfig, run_node


@dataclass
class PerceptionNodeConfig(NodeConfig):
    """Parameters of the perception node; see configs/perception/default.yaml."""

    name: str = "perception"
    checkpoint: str = ""  # checkpoint.pt written by `amibot train encoder`
    model: str = "configs/models/encoder_tiny.yaml"  # architecture the checkpoint must have
    model_name: str = ""  # Latent.model; empty: "vjepa:<run dir>:<step>"
    obs_topic: str = "obs"
    latent_topic: str = "latent"
    proprio: bool = False  # append base_pose, arm and gripper to z
    device: str = "cpu"
    threads: int = 1  # torch intra-op threads

    def __post_init__(self) -> None:
        self.checkpoint = str(resolve(self.checkpoint)) if self.checkpoint else ""  # cwd first, then amibot data

    def check(self) -> None:
        super().check()
        if self.obs_topic not in self.inputs:
            raise ValueError(f"key 'obs_topic' = {self.obs_topic!r} is not in 'inputs' {sorted(self.inputs)}")
        if self.threads < 1:
            raise ValueError(f"key 'threads' = {self.threads}: must be >= 1")
        if not self.checkpoint:
            raise ValueError("key 'checkpoint' must name a checkpoint.pt (amibot train encoder --out DIR)")
        try:
            expected = load_config(self.model).encoder
        except (OSError, ValueError) as exc:
            raise ValueError(f"key 'model' = {self.model!r}: {exc}") from None
        try:
            stored = checkpoint_config(self.checkpoint).encoder
        except (OSError, ValueError, RuntimeError) as exc:
            raise ValueError(f"key 'checkpoint' = {self.checkpoint!r}: cannot read: {exc}") from None
        diff = encoder_mismatch(stored, expected)
        if diff:
            raise ValueError(
                f"key 'checkpoint' = {self.checkpoint!r} does not match key 'model' = {self.model!r}: "
                + "; ".join(diff)
            )


class PerceptionNode(Node):
    """Encodes the newest head-camera clip of each observation and publishes a Latent."""

    config_cls = PerceptionNodeConfig
    latest_topics = frozenset({"obs"})

    def __init__(self, config: PerceptionNodeConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.encoder: ClipEncoder | None = None
        self.model_name = config.model_name
        self.on(config.obs_topic, self._on_obs, Observation)

    def setup(self) -> None:
        torch.set_num_threads(self.cfg.threads)
        frame_step = load_config(self.cfg.model).train.frame_step
        self.encoder = ClipEncoder.from_checkpoint(self.cfg.checkpoint, frame_step, self.cfg.device)
        if not self.model_name:
            step = torch.load(self.cfg.checkpoint, map_location="cpu", weights_only=True, mmap=True)["step"]
            path = Path(self.cfg.checkpoint)  # runs/NAME/checkpoint.pt -> NAME; models/NAME.pt -> NAME
            self.model_name = f"vjepa:{path.parent.name if path.name == CHECKPOINT else path.stem}:{step}"
        self.log.info("encoder %s loaded from %s", self.model_name, self.cfg.checkpoint)

    def _on_obs(self, msg: Observation) -> None:
        assert self.encoder is not None  # setup() ran
        self.encoder.push(msg.head, msg.episode)
        z = self.encoder.encode()
        if self.cfg.proprio:
            proprio = np.concatenate([msg.base_pose, msg.arm, [msg.gripper]]).astype(np.float32)
            z = np.concatenate([z, proprio])
        self.counters["latents"] += 1
        self.publish(
            self.cfg.latent_topic,
            Latent(z=z, source_seq=msg.seq, source_mono=msg.stamp_mono, model=self.model_name),
        )

    def teardown(self) -> None:
        timing = self.stats()["handler_ms"].get(self.cfg.obs_topic)
        if timing:
            self.log.info("%d latents published; per observation p50 %.1f ms, p99 %.1f ms (encode + publish)",
                          self.counters["latents"], timing["p50"], timing["p99"])  # fmt: skip


NODE = PerceptionNode

if __name__ == "__main__":
    raise SystemExit(run_node(PerceptionNode))
