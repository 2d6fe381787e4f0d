"""ZeroMQ transport: publisher, latest-value subscriber, DEALER/ROUTER request-reply."""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgpack
import zmq

from agent.runtime.codec import DEFAULT_MAX_BYTES, decode, encode
from agent.runtime.messages import Heartbeat
from agent.runtime.schema import Message, MessageError
from agent.runtime.security import CurveClient, CurveServer, apply_client, apply_server

log = logging.getLogger(__name__)
HEARTBEAT_TOPIC = "heartbeat"
_LOG_EVERY = 100  # after the first few, log one rejection in this many
MAX_TOPIC_BYTES = 128  # longest topic a subscriber may ask for
MAX_PEER_SUBSCRIPTIONS = 64  # subscribe messages one connection may send a publisher; more and it is cut
SERVE_BATCH = 256  # (un)subscriptions a publisher handles per call; the rest wait for the next loop
SUBSCRIPTION_MAX_BYTES = 512  # inbound cap of a publisher socket (subscriptions; also the CurveZMQ handshake)
# a dropped link that ZeroMQ has not started retrying within this time is reconnected by hand
RELINK_AFTER_S = 0.2
_LINK_EVENTS = zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED | zmq.EVENT_CONNECTED
_MONITORS = itertools.count()  # unique monitor endpoints: pyzmq's default name reuses a closed socket's fd


def context() -> zmq.Context:
    """The process-wide ZeroMQ context."""
    return zmq.Context.instance()


def _prepare(endpoint: str) -> None:
    if endpoint.startswith("ipc://"):
        Path(endpoint[len("ipc://") :]).parent.mkdir(parents=True, exist_ok=True)
    elif not endpoint.startswith(("tcp://", "inproc://")):
        raise ValueError(f"endpoint {endpoint!r}: expected ipc://PATH, tcp://HOST:PORT or inproc://NAME")


def _socket(kind: int, *, hwm: int, max_bytes: int) -> zmq.Socket:
    """A socket with LINGER=0, small HWMs and a hard inbound size cap.

    The cap is twice the codec's limit: the codec counts an oversize message as a reject, and only
    a frame beyond the cap makes ZeroMQ drop the sending peer's connection (memory protection).
    """
    sock = context().socket(kind)
    sock.linger = 0
    sock.sndhwm = hwm
    sock.rcvhwm = hwm
    sock.setsockopt(zmq.MAXMSGSIZE, 2 * max_bytes)
    return sock


class RejectCounter:
    """Counts rejected inputs by reason and logs them without flooding the log."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.by_reason: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    def reject(self, error: MessageError | str, detail: str = "") -> None:
        reason = error.reason if isinstance(error, MessageError) else error
        self.by_reason[reason] += 1
        n = self.by_reason[reason]
        if n <= 3 or n % _LOG_EVERY == 0:
            log.warning("rejected on %s (%s, #%d): %s", self.where, reason, n, detail or error)


class Publisher:
    """Binds an endpoint and publishes typed messages; never blocks (drops at the HWM).

    What one peer can make it hold is bounded. ZeroMQ keeps each subscription a connection sent until
    that connection ends, so subscriptions are read by hand (XPUB_MANUAL) and counted per connection:
    one that sends more than MAX_PEER_SUBSCRIPTIONS is cut (which frees them all; the peer may come
    back), and a subscription message over SUBSCRIPTION_MAX_BYTES makes ZeroMQ cut it by itself.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        hwm: int = 100,
        curve: CurveServer | None = None,
        name: str = "pub",
    ) -> None:
        _prepare(endpoint)
        self.endpoint = endpoint
        self.rejects = RejectCounter(f"{name} subscriptions")
        self.sock = _socket(zmq.XPUB, hwm=hwm, max_bytes=DEFAULT_MAX_BYTES)
        self.sock.setsockopt(zmq.MAXMSGSIZE, SUBSCRIPTION_MAX_BYTES)
        self.sock.setsockopt(zmq.XPUB_MANUAL, 1)
        # new connections (their fd); poll it too (a node does): ~2000 unread events block ZeroMQ's I/O thread
        self.monitor = self.sock.get_monitor_socket(zmq.EVENT_ACCEPTED, f"inproc://amibot.monitor.{next(_MONITORS)}")
        if curve is not None:
            apply_server(self.sock, context(), curve)
        self.sock.bind(endpoint)
        self._seq: Counter[str] = Counter()
        self._topics: dict[int, Counter[bytes]] = {}  # connection fd -> topics it subscribed to here
        self._sent: Counter[int] = Counter()  # connection fd -> subscribe messages it sent (none refunded)
        self._serve_at = 0.0  # publish() looks for pending subscriptions from then on

    def serve_subscriptions(self) -> None:
        """Apply, refuse or cut queued (un)subscriptions, at most SERVE_BATCH of them a call (a flood
        must not starve the node's loop); call when the socket is readable."""
        while self.monitor.get(zmq.EVENTS) & zmq.POLLIN:  # a new connection on a reused fd starts from 0
            fd = int.from_bytes(self.monitor.recv_multipart()[0][2:6], "little")
            self._topics.pop(fd, None)
            self._sent.pop(fd, None)
        sock = self.sock
        for _ in range(SERVE_BATCH):
            if not sock.get(zmq.EVENTS) & zmq.POLLIN:
                break
            try:
                frame = sock.recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            self._serve(frame)

    def _serve(self, frame: zmq.Frame) -> None:
        data, fd = frame.bytes, _source_fd(frame)
        kind, topic = data[:1], data[1:]
        if kind == b"\0":
            held = self._topics.get(fd)
            if fd < 0 or (held is not None and held[topic] > 0):  # ZeroMQ's own as a link ends, or one it holds
                self.sock.setsockopt(zmq.UNSUBSCRIBE, topic)
                if held is not None:
                    held[topic] -= 1
            else:  # an unsubscribe of a topic it never subscribed to must not make room for another
                self.rejects.reject("unknown_unsubscription", f"{topic[:32]!r} was not subscribed by that peer")
        elif kind != b"\1":
            self.rejects.reject("bad_subscription", f"{data[:32]!r} is not a (un)subscription")
        elif fd >= 0 and self._sent[fd] >= MAX_PEER_SUBSCRIPTIONS:
            self._cut(fd, frame)
        elif len(topic) > MAX_TOPIC_BYTES:
            self._sent[fd] += 1
            self.rejects.reject("subscription_too_long", f"{len(topic)} bytes > {MAX_TOPIC_BYTES}: {topic[:32]!r}")
        else:
            self._sent[fd] += 1
            self._topics.setdefault(fd, Counter())[topic] += 1
            self.sock.setsockopt(zmq.SUBSCRIBE, topic)

    def _cut(self, fd: int, frame: zmq.Frame) -> None:
        """Close the connection on fd: ZeroMQ then drops it and everything it subscribed."""
        self._topics.pop(fd, None)
        self._sent.pop(fd, None)
        try:
            with socket.socket(fileno=os.dup(fd)) as conn:
                conn.shutdown(socket.SHUT_RDWR)
        except OSError:  # gone already
            pass
        self.rejects.reject(
            "subscription_flood",
            f"peer {frame.get('Peer-Address')} sent more than {MAX_PEER_SUBSCRIPTIONS} subscriptions; cut off",
        )

    def publish(self, topic: str, msg: Message) -> Message:
        """Stamp (seq per topic; times if unset), validate and send. Returns the sent message."""
        now = time.monotonic()
        if now >= self._serve_at:  # pending subscriptions first (a node also polls them), at most 1 ms apart
            self._serve_at = now + 0.001
            if self.sock.get(zmq.EVENTS) & zmq.POLLIN:
                self.serve_subscriptions()
        self._seq[topic] += 1
        msg.seq = self._seq[topic]
        if not msg.stamp_mono:
            msg.stamp_mono = now
        if not msg.stamp_wall:
            msg.stamp_wall = time.time()
        self.sock.send_multipart(encode(topic, msg), copy=False, flags=zmq.NOBLOCK)
        return msg

    def close(self) -> None:
        self.sock.disable_monitor()  # first: a monitor closed while still attached can block ZeroMQ's I/O thread
        self.monitor.close(linger=0)
        self.sock.close(linger=0)


class Subscriber:
    """Connects to publishers; decodes, validates and counts rejects; drains latest-value topics.

    The heartbeat topic is always subscribed so a node sees the liveness of its upstreams. A topic
    with a declared message type (expect()) counts any other type as a `wrong_type` reject. A dropped
    link is reconnected at once and counted in `reconnects`: after a frame over the socket's size cap
    ZeroMQ drops the link and never retries it, which would leave the node deaf to that publisher.
    """

    def __init__(
        self,
        endpoints: Iterable[str],
        topics: Iterable[str],
        *,
        latest: Iterable[str] = (),
        hwm: int = 100,
        curve: dict[str, CurveClient] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age: float | None = None,
        name: str = "sub",
    ) -> None:
        self.endpoints = list(endpoints)
        self.topics = set(topics) | {HEARTBEAT_TOPIC}
        self.types: dict[str, type[Message]] = {HEARTBEAT_TOPIC: Heartbeat}  # topic -> the type it carries
        self.latest = set(latest)
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.curve = curve
        self.rejects = RejectCounter(name)
        self.superseded: Counter[str] = Counter()  # latest-value messages dropped for a newer one, by topic
        self.reconnects: Counter[str] = Counter()  # links dropped and reconnected, by endpoint
        self.sock = _socket(zmq.SUB, hwm=hwm, max_bytes=max_bytes)
        for topic in self.topics:
            if len(topic.encode()) > MAX_TOPIC_BYTES:
                raise ValueError(f"topic {topic[:40]!r}...: longer than {MAX_TOPIC_BYTES} bytes")
            self.sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
        # read it often: ZeroMQ's I/O thread blocks when this queue is full (~2000 events)
        self.monitor = self.sock.get_monitor_socket(_LINK_EVENTS, f"inproc://amibot.monitor.{next(_MONITORS)}")
        self._dropped: dict[str, float] = {}  # endpoint -> when its link dropped with no retry by ZeroMQ yet
        self._poller = zmq.Poller()
        self._poller.register(self.sock, zmq.POLLIN)
        self._poller.register(self.monitor, zmq.POLLIN)
        for endpoint in self.endpoints:
            _prepare(endpoint)
            self._connect(endpoint)

    def _connect(self, endpoint: str) -> None:
        if self.curve is not None:  # options are copied at connect(): one server key per endpoint
            if endpoint not in self.curve:
                raise ValueError(f"no CurveZMQ server key given for {endpoint}")
            apply_client(self.sock, self.curve[endpoint])
        self.sock.connect(endpoint)

    def expect(self, topic: str, msg_type: type[Message]) -> None:
        """Accept only msg_type on topic; another type is counted as `wrong_type` and dropped."""
        self.types[topic] = msg_type

    def check_links(self) -> None:
        """Reconnect links ZeroMQ dropped and gave up on; call often (a node does, every loop).

        A publisher that went away is retried by ZeroMQ itself (a connect-retried event follows the
        disconnect at once); a link dropped for a protocol error (a frame over the size cap) is not.
        Only those are reconnected here: disconnecting a link ZeroMQ is already retrying can abort
        libzmq (fq.cpp `!_more`).
        """
        while self.monitor.get(zmq.EVENTS) & zmq.POLLIN:
            event, endpoint = _monitor_event(self.monitor.recv_multipart())
            if endpoint not in self.endpoints:
                continue
            if event == zmq.EVENT_DISCONNECTED:
                self._dropped[endpoint] = time.monotonic()
            else:  # connected or retrying: ZeroMQ looks after this link
                self._dropped.pop(endpoint, None)
        if self._dropped:
            now = time.monotonic()
            for endpoint, since in list(self._dropped.items()):
                if now - since >= RELINK_AFTER_S:
                    del self._dropped[endpoint]
                    self._relink(endpoint)

    def _relink(self, endpoint: str) -> None:
        try:
            self.sock.disconnect(endpoint)
        except zmq.ZMQError:  # ZeroMQ already forgot the endpoint: connecting again is all that is needed
            pass
        self._connect(endpoint)
        self.reconnects[endpoint] += 1
        n = self.reconnects[endpoint]
        if n <= 3 or n % _LOG_EVERY == 0:
            log.warning(
                "%s: link to %s dropped (the publisher went away, or sent a frame over the %d-byte socket cap); "
                "reconnected (#%d)",
                self.rejects.where,
                endpoint,
                2 * self.max_bytes,
                n,
            )

    def _read(self, flags: int) -> tuple[str, Message] | None:
        frames = self.sock.recv_multipart(copy=False, flags=flags)
        try:
            topic, msg = decode(frames, max_bytes=self.max_bytes, max_age=self.max_age)
        except MessageError as exc:
            self.rejects.reject(exc)
            return None
        if topic not in self.topics:  # ZMQ filters by prefix; we want exact topics
            return None
        expected = self.types.get(topic)
        if expected is not None and not isinstance(msg, expected):
            self.rejects.reject(
                "wrong_type", f"topic '{topic}' carries {expected.TYPE}, got {msg.TYPE}{_sender(msg)}; dropped"
            )
            return None
        return topic, msg

    def recv(self, timeout: float | None = None) -> tuple[str, Message] | None:
        """Next valid message, or None when the timeout passes first (None = wait forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = 100 if deadline is None else int(min(0.1, max(0.0, deadline - time.monotonic())) * 1000)
            ready = dict(self._poller.poll(wait))  # at most 0.1 s: a dropped link may be due for a reconnect
            self.check_links()
            if self.sock in ready:
                got = self._read(zmq.NOBLOCK)
                if got is not None:
                    return got
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def drain(self) -> list[tuple[str, Message]]:
        """Everything queued now, in order, with each latest-value topic reduced to its newest."""
        self.check_links()  # also for owners that poll only the data socket (the launcher)
        out: list[tuple[str, Message]] = []
        newest: dict[str, int] = {}
        sock = self.sock
        while sock.get(zmq.EVENTS) & zmq.POLLIN:  # cheaper than ending on a zmq.Again exception
            try:
                got = self._read(zmq.NOBLOCK)
            except zmq.Again:
                break
            if got is None:
                continue
            topic = got[0]
            if topic in self.latest and topic in newest:
                out[newest[topic]] = None  # type: ignore[call-overload]
                self.superseded[topic] += 1
            newest[topic] = len(out)
            out.append(got)
        return [item for item in out if item is not None]

    def close(self) -> None:
        self.sock.disable_monitor()  # first: a monitor closed while still attached can block ZeroMQ's I/O thread
        self.monitor.close(linger=0)
        self.sock.close(linger=0)


def _source_fd(frame: zmq.Frame) -> int:
    """The fd of the connection a subscription came on; -1 for those ZeroMQ makes when a connection ends."""
    try:
        return frame.get(zmq.SRCFD)
    except zmq.ZMQError:  # no metadata
        return -1


def _monitor_event(frames: list[bytes]) -> tuple[int, str]:
    """(event id, endpoint) from a ZeroMQ socket-monitor message."""
    return int.from_bytes(frames[0][:2], "little"), frames[1].decode(errors="replace")


def _sender(msg: Message) -> str:
    """' from NAME' when the message names who sent it, else ''."""
    name = getattr(msg, "source", None) or getattr(msg, "node", None)
    return f" from '{name}'" if isinstance(name, str) else ""


class RpcError(RuntimeError):
    """The server answered with an error."""


class RpcTimeout(TimeoutError):
    """No reply within the timeout after all retries."""


class RpcServer:
    """ROUTER socket answering {method, params} requests with registered handlers."""

    def __init__(
        self,
        endpoint: str,
        handlers: dict[str, Callable[[dict[str, Any]], Any]],
        *,
        curve: CurveServer | None = None,
        name: str = "rpc",
    ) -> None:
        _prepare(endpoint)
        self.endpoint = endpoint
        self.handlers = handlers
        self.rejects = RejectCounter(name)
        self.sock = _socket(zmq.ROUTER, hwm=100, max_bytes=1024 * 1024)
        if curve is not None:
            apply_server(self.sock, context(), curve)
        self.sock.bind(endpoint)

    def handle_pending(self) -> int:
        """Answer every queued request without blocking; returns how many were handled."""
        handled = 0
        while self.sock.get(zmq.EVENTS) & zmq.POLLIN:  # cheaper than ending on a zmq.Again exception
            try:
                frames = self.sock.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                break
            handled += 1
            self._handle(frames)
        return handled

    def _handle(self, frames: list[bytes]) -> None:
        if len(frames) != 3 or frames[1] != b"":
            self.rejects.reject("bad_envelope", f"{len(frames)} frames")
            return
        identity, _, body = frames
        try:
            req = msgpack.unpackb(body, raw=False)
            if not (isinstance(req, dict) and isinstance(req.get("method"), str)):
                raise ValueError("request must be a map with a string 'method'")
            params = req.get("params") or {}
            if not isinstance(params, dict):
                raise ValueError("params must be a map")
        except Exception as exc:  # garbage from the network: count, answer, keep serving
            self.rejects.reject("bad_request", str(exc))
            self._reply(identity, None, ok=False, error=f"bad request: {exc}")
            return
        handler = self.handlers.get(req["method"])
        if handler is None:
            self.rejects.reject("unknown_method", req["method"])
            self._reply(
                identity,
                req.get("id"),
                ok=False,
                error=f"unknown method {req['method']!r}; known {sorted(self.handlers)}",
            )
            return
        try:
            result = handler(params)
        except Exception as exc:  # a failing handler answers with its error; the server lives on
            log.exception("rpc %s failed", req["method"])
            self._reply(identity, req.get("id"), ok=False, error=f"{type(exc).__name__}: {exc}")
            return
        self._reply(identity, req.get("id"), ok=True, result=result)

    def _reply(self, identity: bytes, rid: Any, *, ok: bool, result: Any = None, error: str = "") -> None:
        body = msgpack.packb({"id": rid, "ok": ok, "result": result, "error": error}, use_bin_type=True)
        try:
            self.sock.send_multipart([identity, b"", body], flags=zmq.NOBLOCK)
        except zmq.Again:
            self.rejects.reject("reply_dropped", "client queue full")

    def close(self) -> None:
        self.sock.close(linger=0)


class RpcClient:
    """DEALER client with timeout and retries; a fresh socket per retry so nothing stale is replayed."""

    def __init__(self, endpoint: str, *, curve: CurveClient | None = None) -> None:
        _prepare(endpoint)
        self.endpoint = endpoint
        self.curve = curve
        self._next_id = 0
        self.rejects = RejectCounter(f"rpc client {endpoint}")
        self.sock = self._open()

    def _open(self) -> zmq.Socket:
        sock = _socket(zmq.DEALER, hwm=10, max_bytes=16 * 1024 * 1024)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only on live connections
        if self.curve is not None:
            apply_client(sock, self.curve)
        sock.connect(self.endpoint)
        return sock

    def call(self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 1.0, retries: int = 2) -> Any:
        """Result of method(params); RpcError when it failed there, RpcTimeout when nobody answered."""
        for attempt in range(retries + 1):
            self._next_id += 1
            rid = self._next_id
            body = msgpack.packb({"id": rid, "method": method, "params": params or {}}, use_bin_type=True)
            deadline = time.monotonic() + timeout
            if self._send(body, deadline):
                reply = self._await(rid, deadline)
                if reply is not None:
                    if not reply.get("ok"):
                        raise RpcError(f"{self.endpoint} {method}: {reply.get('error')}")
                    return reply.get("result")
            log.debug("rpc %s to %s: no reply (attempt %d)", method, self.endpoint, attempt + 1)
            self.sock.close(linger=0)
            self.sock = self._open()
        raise RpcTimeout(f"{method} on {self.endpoint}: no reply after {retries + 1} tries of {timeout}s")

    def _send(self, body: bytes, deadline: float) -> bool:
        while True:
            try:
                self.sock.send_multipart([b"", body], flags=zmq.NOBLOCK)
                return True
            except zmq.Again:  # not connected yet
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.005)

    def _await(self, rid: int, deadline: float) -> dict[str, Any] | None:
        while (remaining := deadline - time.monotonic()) > 0:
            if not self.sock.poll(int(remaining * 1000) + 1):
                return None
            frames = self.sock.recv_multipart()
            try:
                reply = msgpack.unpackb(frames[-1], raw=False)
            except Exception as exc:  # a garbled reply counts, then is treated like no reply
                self.rejects.reject("bad_reply", f"{type(exc).__name__}: {exc}")
                continue
            if isinstance(reply, dict) and reply.get("id") == rid:
                return reply
        return None

    def close(self) -> None:
        self.sock.close(linger=0)
