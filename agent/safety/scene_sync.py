"""Follows the backend's static scene: which (scene, seed) each episode is built from, via its `scene` rpc."""

from __future__ import annotations

from dataclasses import dataclass

from agent.runtime.bus import RpcClient

TIMEOUT_S = 0.1  # one try; the node's loop is blocked this long at most per query
RETRY_S = 0.5  # between queries while the scene of the current episode is unknown


@dataclass(frozen=True)
class SceneId:
    """The backend's answer: the static scene of one episode."""

    scene: str
    seed: int
    episode: int


class SceneFollower:
    """Knows the episode the built scene belongs to and the newest episode seen in observations."""

    def __init__(self, client: RpcClient) -> None:
        self.client = client  # of the backend's rpc; closed with the follower
        self.known_episode: int | None = None  # the built scene is confirmed for this episode
        self.seen_episode: int | None = None  # episode of the newest observation
        self.next_query = 0.0

    @property
    def known(self) -> bool:
        """Whether the built scene is the one of the episode the robot is in."""
        return self.seen_episode is not None and self.seen_episode == self.known_episode

    def due(self, now: float) -> bool:
        """Whether to ask the backend now (unknown scene, and not asked within RETRY_S)."""
        return not self.known and now >= self.next_query

    def query(self, now: float) -> SceneId:
        """The backend's current scene; RpcTimeout / RpcError / KeyError / ValueError when it can't say."""
        self.next_query = now + RETRY_S
        reply = self.client.call("scene", timeout=TIMEOUT_S, retries=0)
        return SceneId(str(reply["scene"]), int(reply["seed"]), int(reply["episode"]))

    def close(self) -> None:
        self.client.close()
