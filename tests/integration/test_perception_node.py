"""The perception node as a real process: Observations in over ZeroMQ, Latents out; bad checkpoints refused."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from agent.runtime.bus import Publisher, RpcClient, Subscriber
from agent.runtime.messages import Latent, Observation
from tests.integration.conftest import ENCODER
from tests.integration.procs import REPO, start_node, wait_ready


def node_config(tmp_path: Path, run_dir: Path, model: Path, **extra: object) -> Path:
    path = tmp_path / "perception.yaml"
    cfg = {
        "publish": f"ipc://{tmp_path}/perception.pub",
        "rpc": f"ipc://{tmp_path}/perception.rpc",
        "inputs": {"obs": f"ipc://{tmp_path}/obs.pub"},
        "checkpoint": str(run_dir / "run" / "checkpoint.pt"),
        "model": str(model),
        **extra,
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def observation(rng: np.random.Generator, size: int = 48) -> Observation:
    """A camera frame of another size than the model's (the node resizes) plus proprio."""
    return Observation(
        head=rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        base_pose=np.zeros(3),
        base_vel=np.zeros(3),
        arm=np.zeros(5),
        arm_vel=np.zeros(5),
        gripper=0.5,
        episode=1,
    )


def test_node_publishes_latents_of_observations(tmp_path: Path, run_dir: Path) -> None:
    config = node_config(tmp_path, run_dir, run_dir / "model.yaml", proprio=True, model_name="tiny")
    obs_pub = Publisher(f"ipc://{tmp_path}/obs.pub")
    node = start_node("agent.perception", config)
    sub = Subscriber([f"ipc://{tmp_path}/perception.pub"], ["latent"])
    client = RpcClient(f"ipc://{tmp_path}/perception.rpc")
    rng = np.random.default_rng(0)
    sent: dict[int, float] = {}
    got: list[Latent] = []
    try:
        wait_ready(node, client)  # setup() has loaded the model
        deadline = time.monotonic() + 30
        while len(got) < 5 and time.monotonic() < deadline:
            msg = obs_pub.publish("obs", observation(rng))
            sent[msg.seq] = msg.stamp_mono
            while (item := sub.recv(timeout=0.1)) is not None:
                topic, latent = item
                if topic == "latent":
                    got.append(latent)
        assert len(got) >= 5, f"only {len(got)} latents for {len(sent)} observations"
        for latent in got:
            assert isinstance(latent, Latent)
            assert latent.z.dtype == np.float32
            assert latent.z.shape == (16 * ENCODER["dim"] + 3 + 5 + 1,)  # [H'*W', D] flat + proprio
            assert np.isfinite(latent.z).all()
            assert latent.source_seq in sent
            assert latent.source_mono == sent[latent.source_seq]
            assert latent.model == "tiny"
        seqs = [latent.source_seq for latent in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert client.call("stats")["counters"]["latents"] >= len(got)
    finally:
        client.close()
        node.terminate()
        assert node.wait(timeout=10) == 0, "SIGTERM must stop the node cleanly with exit code 0"
        sub.close()
        obs_pub.close()


def test_mismatching_checkpoint_fails_at_startup(tmp_path: Path, run_dir: Path) -> None:
    wrong = tmp_path / "wrong_model.yaml"
    wrong.write_text(yaml.safe_dump({"encoder": {**ENCODER, "dim": 48, "heads": 2}}))
    config = node_config(tmp_path, run_dir, wrong)
    proc = subprocess.run(
        [sys.executable, "-m", "agent.perception", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    assert str(config) in err and "key 'checkpoint'" in err and "key 'model'" in err, err
    assert "encoder.dim: checkpoint 32, config 48" in err, err
    assert "Traceback" not in err, err
