"""Node base class: typed config, bus sockets, timers, heartbeats, counters, clean stop."""

from __future__ import annotations

import argparse
import ctypes
import gc
import logging
import os
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import zmq

from agent.runtime.bus import HEARTBEAT_TOPIC, Publisher, RpcClient, RpcServer, Subscriber
from agent.runtime.config import ConfigError, load_config
from agent.runtime.messages import Heartbeat
from agent.runtime.schema import Message
from agent.runtime.security import CurveClient, CurveServer, graph_client

M = TypeVar("M", bound=Message)
PEER_TIMEOUT_S = 0.5  # a peer whose heartbeat is older than this is considered dead
HANDLER_SAMPLES = 1000  # recent handler durations kept per topic for stats()


@dataclass
class SecurityConfig:
    """CurveZMQ: keys_dir holds NAME.key / NAME.key_secret per node and authorized/*.key."""

    keys_dir: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.keys_dir)


@dataclass
class NodeConfig:
    """Parameters every node has; node types subclass this with their own fields."""

    name: str = "node"
    publish: str = ""  # endpoint this node's publisher binds (heartbeats go out here too)
    inputs: dict[str, str] = field(default_factory=dict)  # topic -> publisher endpoint
    rpc: str = ""  # endpoint of this node's request/reply server, if it has one
    heartbeat_hz: float = 10.0
    max_msg_bytes: int = 32 * 1024 * 1024
    security: SecurityConfig = field(default_factory=SecurityConfig)
    log_level: str = "INFO"
    # publisher or rpc endpoint -> the node serving it (for CURVE server keys); the launcher fills it
    peers: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        if not self.publish:
            raise ValueError("key 'publish' must name an endpoint (every node publishes heartbeats)")
        if self.heartbeat_hz < 10:
            raise ValueError(f"key 'heartbeat_hz' = {self.heartbeat_hz}: must be >= 10")


@dataclass
class _Timer:
    period: float
    due: float
    fn: Callable[[], None]


class Node:
    """An event loop over input topics, RPC requests and fixed-rate timers, until stopped."""

    config_cls: ClassVar[type[NodeConfig]] = NodeConfig
    latest_topics: ClassVar[frozenset[str]] = frozenset()  # sensor topics drained to the newest

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.log = logging.getLogger(f"amibot.{config.name}")
        self.counters: Counter[str] = Counter()
        self.peers: dict[str, tuple[Heartbeat, float]] = {}
        self.ready = False
        self.health = "starting"
        self._stop_requested = False  # a plain flag: set from signal handlers, which must not take locks
        self._started = time.monotonic()
        self._handlers: dict[str, Callable[[Message], None]] = {}
        self._handler_s: dict[str, deque[float]] = {}  # topic -> recent handler durations [s], bounded
        self._timers: list[_Timer] = []
        self.pub = Publisher(config.publish, curve=self._curve_server(), name=config.name)
        self.sub: Subscriber | None = None
        if config.inputs:
            endpoints = sorted(set(config.inputs.values()))
            self.sub = Subscriber(
                endpoints,
                config.inputs,
                latest=self.latest_topics,
                curve=self._curve_clients(endpoints),
                max_bytes=config.max_msg_bytes,
                name=f"{config.name}.inputs",
            )
        self.rpc = (
            RpcServer(config.rpc, self.rpc_handlers(), curve=self._curve_server(), name=f"{config.name}.rpc")
            if config.rpc
            else None
        )
        self.every(config.heartbeat_hz, self._heartbeat)
        self._poller = zmq.Poller()
        for sock in (self.pub, self.sub, self.rpc):  # the publisher's input: subscriptions to apply
            if sock is not None:
                self._poller.register(sock.sock, zmq.POLLIN)
        self._poller.register(self.pub.monitor, zmq.POLLIN)
        if self.sub is not None:
            self._poller.register(self.sub.monitor, zmq.POLLIN)

    # ----- wiring -------------------------------------------------------------------------
    def _curve_server(self) -> CurveServer | None:
        sec = self.config.security
        if not sec.enabled:
            return None
        keys = Path(sec.keys_dir)
        return CurveServer(keys / f"{self.config.name}.key_secret", keys / "authorized")

    def _curve_clients(self, endpoints: list[str]) -> dict[str, CurveClient] | None:
        sec = self.config.security
        if not sec.enabled:
            return None
        keys = Path(sec.keys_dir)
        out = {}
        for ep in endpoints:
            if ep not in self.config.peers:
                raise ConfigError(f"node {self.config.name}: no publisher name for {ep} (key 'peers')")
            out[ep] = CurveClient(keys / f"{self.config.name}.key_secret", keys / f"{self.config.peers[ep]}.key")
        return out

    def rpc_client(self, endpoint: str) -> RpcClient:
        """A client of another node's rpc server, with this node's CurveZMQ keys when the graph has them."""
        sec = self.config.security
        if not sec.enabled:
            return RpcClient(endpoint)
        server = self.config.peers.get(endpoint)
        if server is None:
            raise ConfigError(f"node {self.config.name}: no node name for rpc endpoint {endpoint} (key 'peers')")
        return RpcClient(endpoint, curve=graph_client(sec.keys_dir, self.config.name, server))

    def on(self, topic: str, handler: Callable[[M], None], msg_type: type[M]) -> None:
        """Call handler for each valid msg_type message on an input topic; other types are counted rejects.

        msg_type Message itself accepts every type (a relay)."""
        if topic not in self.config.inputs or self.sub is None:
            raise ConfigError(f"node {self.config.name}: handler for '{topic}', which is not in 'inputs'")
        if topic == HEARTBEAT_TOPIC and msg_type is not Heartbeat:
            raise ConfigError(f"node {self.config.name}: topic '{topic}' carries Heartbeat, not {msg_type.__name__}")
        self.sub.expect(topic, msg_type)
        self._handlers[topic] = handler  # type: ignore[assignment]  # called only with msg_type

    def every(self, hz: float, fn: Callable[[], None]) -> None:
        """Call fn at a fixed rate; a late timer skips missed ticks instead of bursting."""
        period = 1.0 / hz
        self._timers.append(_Timer(period, time.monotonic() + period, fn))

    def publish(self, topic: str, msg: Message) -> Message:
        return self.pub.publish(topic, msg)

    def rpc_handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """RPC methods this node serves; subclasses extend the dict."""
        return {"ping": lambda _: {"node": self.config.name}, "stats": lambda _: self.stats()}

    def stats(self) -> dict[str, Any]:
        rejected = dict(self.sub.rejects.by_reason) if self.sub else {}
        rejected.update({f"pub.{k}": v for k, v in self.pub.rejects.by_reason.items()})
        if self.rpc:
            rejected.update({f"rpc.{k}": v for k, v in self.rpc.rejects.by_reason.items()})
        return {
            "node": self.config.name,
            "counters": dict(self.counters),
            "rejected": rejected,
            "superseded": dict(self.sub.superseded) if self.sub else {},
            "reconnects": dict(self.sub.reconnects) if self.sub else {},
            "handler_ms": {topic: _percentiles_ms(t) for topic, t in self._handler_s.items() if t},
        }

    @property
    def rejected_total(self) -> int:
        total = self.pub.rejects.total + (self.sub.rejects.total if self.sub else 0)
        return total + (self.rpc.rejects.total if self.rpc else 0)

    def peer_alive(self, name: str, now: float | None = None) -> bool:
        """Whether node `name` sent a heartbeat within PEER_TIMEOUT_S."""
        seen = self.peers.get(name)
        return seen is not None and ((now or time.monotonic()) - seen[1]) < PEER_TIMEOUT_S

    # ----- lifecycle hooks ----------------------------------------------------------------
    def setup(self) -> None:
        """Work before the node reports ready (load models, open devices)."""

    def teardown(self) -> None:
        """Release what setup() acquired; called once on the way out."""

    def request_stop(self) -> None:
        """Ask the loop to end; safe from any thread and from a signal handler (sets a flag, takes no lock)."""
        self._stop_requested = True

    @property
    def stopping(self) -> bool:
        return self._stop_requested

    # ----- loop ---------------------------------------------------------------------------
    def _heartbeat(self) -> None:
        self.publish(
            HEARTBEAT_TOPIC,
            Heartbeat(
                node=self.config.name,
                health=self.health,
                ready=self.ready,
                pid=os.getpid(),
                uptime=time.monotonic() - self._started,
                rejected=self.rejected_total,
            ),
        )

    def _dispatch(self, topic: str, msg: Message) -> None:
        if topic == HEARTBEAT_TOPIC:
            if isinstance(msg, Heartbeat):  # the subscriber passes nothing else on this topic
                self.peers[msg.node] = (msg, time.monotonic())
            if topic not in self._handlers:
                return
        handler = self._handlers.get(topic)
        if handler is None:
            return
        t0 = time.perf_counter()
        try:
            handler(msg)
            times = self._handler_s.get(topic)
            if times is None:
                times = self._handler_s[topic] = deque(maxlen=HANDLER_SAMPLES)
            times.append(time.perf_counter() - t0)
        except Exception:
            self.counters["handler_error"] += 1
            if self.counters["handler_error"] <= 3 or self.counters["handler_error"] % 100 == 0:
                self.log.exception(
                    "handler for %s failed (#%d); node keeps running", topic, self.counters["handler_error"]
                )

    def spin_once(self, timeout: float) -> None:
        """Wait up to timeout for input, then handle inputs, RPCs and due timers."""
        ready = dict(self._poller.poll(max(0, int(timeout * 1000))))
        if self.pub.sock in ready or self.pub.monitor in ready:
            self.pub.serve_subscriptions()
        if self.sub:
            if self.sub.sock in ready:
                for topic, msg in self.sub.drain():  # checks the links first
                    self._dispatch(topic, msg)
            else:
                self.sub.check_links()  # link events, and a dropped link due for a reconnect
        if self.rpc and self.rpc.sock in ready:
            self.rpc.handle_pending()
        now = time.monotonic()
        for timer in self._timers:
            if now >= timer.due:
                missed = int((now - timer.due) // timer.period)
                if missed:
                    self.counters["timer_overrun"] += missed
                timer.due += (missed + 1) * timer.period
                try:
                    timer.fn()
                except Exception:
                    self.counters["timer_error"] += 1
                    self.log.exception("timer %s failed; node keeps running", getattr(timer.fn, "__name__", "?"))

    def run(self) -> int:
        """Set up, report ready, loop until stopped; returns the process exit code."""
        try:
            self.setup()
            gc.collect()
            gc.freeze()  # what setup built (models, worlds, configs) is never scanned again: shorter GC pauses
            self.ready = True
            self.health = "ok"
            self.log.info("ready (publish %s)", self.config.publish)
            self._heartbeat()
            while not self._stop_requested:
                next_due = min(t.due for t in self._timers)
                self.spin_once(min(0.05, max(0.0, next_due - time.monotonic())))
            self.health = "stopping"
            self._heartbeat()
            return 0
        finally:
            self.teardown()
            self.close()
            self.log.info("stopped")

    def close(self) -> None:
        for sock in (self.pub, self.sub, self.rpc):
            if sock is not None:
                sock.close()


def _percentiles_ms(times: deque[float]) -> dict[str, float]:
    """p50 / p99 / max [ms] and count of recent handler durations."""
    ms = sorted(t * 1e3 for t in times)
    n = len(ms)
    return {"n": n, "p50": ms[n // 2], "p99": ms[min(n - 1, int(0.99 * n))], "max": ms[-1]}


def _die_with_parent() -> None:
    """When started by the launcher, get SIGTERM if it dies (no orphans), and exit if it already has."""
    parent = os.environ.get("AMIBOT_LAUNCHER_PID")
    if not parent or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != int(parent):
        sys.exit("amibot: launcher already gone; not starting")


def configure_logging(name: str, level: str = "INFO") -> None:
    """Log lines carry the node name (the launcher adds it as a prefix when it runs the node)."""
    tag = "" if os.environ.get("AMIBOT_LAUNCHED") else f"[{name}] "
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s.%(msecs)03d %(levelname).1s {tag}%(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )


def run_node(node_cls: type[Node], argv: Sequence[str] | None = None) -> int:
    """`python -m agent.PKG --config FILE [--set key=value ...]` for any node class."""
    parser = argparse.ArgumentParser(prog=f"python -m {node_cls.__module__}", description=node_cls.__doc__)
    parser.add_argument("--config", type=Path, help="YAML config file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    args = parser.parse_args(argv)
    try:
        config = load_config(node_cls.config_cls, args.config, args.set)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.name, config.log_level)
    _die_with_parent()
    node = node_cls(config)
    for sig in (signal.SIGTERM, signal.SIGINT):  # async-safe: only sets a flag the loop reads within 50 ms
        signal.signal(sig, lambda *_: node.request_stop())
    code = node.run()
    for sig in (signal.SIGTERM, signal.SIGINT):  # stopped: Python's exit restores the default (death by signal)
        signal.signal(sig, signal.SIG_IGN)
    return code
