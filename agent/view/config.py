"""Configuration of the view node: where the recording goes and which topics it knows how to show."""

from __future__ import annotations

from dataclasses import dataclass

from agent.runtime.messages import Command, Latent, Observation, SafetyEvent, Surprise, TaskStatus
from agent.runtime.node import NodeConfig
from agent.runtime.schema import Message

# The topics the view can show and the message type each carries; it subscribes to those the graph has.
VIEW_TOPICS: dict[str, type[Message]] = {
    "obs": Observation,
    "latent": Latent,
    "cmd.safe": Command,
    "safety_events": SafetyEvent,
    "surprise": Surprise,
    "task_status": TaskStatus,
}
LATEST_TOPICS = frozenset({"obs", "latent", "cmd.safe"})  # drained to the newest: the view may skip, never lag


@dataclass
class ViewConfig(NodeConfig):
    """Parameters of the view node (python -m agent.view.node); at least one of save, spawn, serve."""

    name: str = "view"
    save: str = ""  # write the recording to this .rrd file
    spawn: bool = False  # open the native viewer (needs a display; without one the web viewer is served)
    serve: bool = False  # serve the web viewer on web_port, fed from a gRPC server on grpc_port (localhost)
    web_port: int = 9090
    grpc_port: int = 9876
    backend_rpc: str = ""  # the backend's rpc endpoint: its `scene` reply draws the apartment's boxes on the map
    token_dim: int = 96  # D of the latent's token grid z = [H'*W'*D (+ proprio)]; H' = W'
    pca_fit: int = 8  # latents the PCA colour basis is fitted on, once; fixed afterwards
    path_every: int = 5  # observations between redraws of the odometry path on the map

    def check(self) -> None:
        super().check()
        unknown = sorted(set(self.inputs) - set(VIEW_TOPICS))
        if unknown:
            raise ValueError(f"key 'inputs': the view cannot show {unknown}; it knows {sorted(VIEW_TOPICS)}")
        if not (self.save or self.spawn or self.serve):
            raise ValueError("set at least one of 'save' (FILE.rrd), 'spawn' or 'serve'")
        if self.save and not self.save.endswith(".rrd"):
            raise ValueError(f"key 'save' = {self.save!r}: expected a FILE.rrd")
        for key in ("token_dim", "pca_fit", "path_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"key '{key}' = {getattr(self, key)}: must be >= 1")
