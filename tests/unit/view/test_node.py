"""The view node in process on real sockets: what it records, and gaps (never a crash) for bad input."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from agent.runtime.bus import Publisher
from agent.runtime.messages import Latent, Observation, SafetyEvent
from agent.view.config import ViewConfig
from agent.view.node import ViewNode
from agent.view.readback import entity_times

DIM = 4  # token dim of the test latents: a 2 x 2 grid is 16 values


def observation(episode: int, sim_time: float) -> Observation:
    z, q = np.zeros(3), np.zeros(5)
    return Observation(
        head=np.zeros((8, 8, 3), np.uint8),
        base_pose=np.array([sim_time, 1.0, 0.0]),
        base_vel=z,
        arm=q,
        arm_vel=q,
        sim_time=sim_time,
        episode=episode,
    )


def spin_until(node: ViewNode, done: Callable[[], bool], send: Callable[[], None], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        send()
        node.spin_once(0.02)
        if done():
            return True
    return False


def test_each_stream_lands_on_its_episode_timeline_and_bad_or_missing_input_only_makes_gaps(tmp_path: Path) -> None:
    feed = Publisher(f"ipc://{tmp_path}/feed.pub", name="feed")
    inputs = {t: f"ipc://{tmp_path}/feed.pub" for t in ("obs", "latent", "safety_events")}  # no surprise topic
    out = tmp_path / "view.rrd"
    node = ViewNode(
        ViewConfig(publish=f"ipc://{tmp_path}/view.pub", inputs=inputs, save=str(out), token_dim=DIM, pca_fit=1)
    )
    node.setup()
    try:
        first = observation(1, 0.0)
        assert spin_until(node, lambda: node.counters["obs"] > 0, lambda: feed.publish("obs", first))
        sent: dict[int, list[float]] = {1: [], 2: []}
        prev = None
        for episode, t in [(1, 0.1), (1, 0.2), (2, 0.0), (2, 0.1)]:
            obs = feed.publish("obs", observation(episode, t))
            assert spin_until(node, lambda t=t: node.sim_time == t, lambda: None)
            sent[episode].append(t)
            obs, prev = prev, obs  # each latent comes from the observation before the newest (encoding lags)
            if obs is None:
                continue
            good = Latent(z=np.arange(4 * DIM, dtype=np.float32) * t, source_seq=obs.seq, source_mono=obs.stamp_mono)
            bad = Latent(z=np.zeros(3 * DIM, np.float32), source_seq=obs.seq, source_mono=obs.stamp_mono)
            n = node.counters["latent"]
            feed.publish("latent", bad)  # not a square token grid: a gap in the PCA image
            assert spin_until(node, lambda: node.counters["latent.bad_shape"] > 0, lambda: None)
            feed.publish("latent", good)
            assert spin_until(node, lambda n=n: node.counters["latent"] > n, lambda: None)
        feed.publish("latent", Latent(z=np.zeros(4 * DIM, np.float32), source_seq=10_000))  # no such observation
        feed.publish("safety_events", SafetyEvent(rule="collision", action="stop", reason="too_close"))
        assert spin_until(node, lambda: node.counters["safety_events"] > 0 and node.counters["unplaced"] > 0, lambda: 0)
        assert node.counters["latent.bad_shape"] == 3 and node.counters["handler_error"] == 0
    finally:
        node.teardown()
        node.close()
        feed.close()
    times = entity_times(out)
    for entity in ("/camera/head", "/state/arm", "/state/base_vel", "/map/robot"):
        assert times[entity]["episode_2"] == sent[2], entity  # episode 2 starts at 0 on its own timeline
        assert set(times[entity]["episode_1"]) == {0.0, *sent[1]}, entity  # the first one may be sent twice
    assert times["/perception/pca"] == {"episode_1": [0.1, 0.2], "episode_2": [0.0]}  # at their source's time
    assert times["/safety/events"] == {"episode_2": [0.1]}  # at the newest observation's time
    assert times["/map/safety"] == {"episode_2": [0.1]}
    assert "/world_model/surprise" not in times and "/camera/wrist" not in times
