"""Latency the safety node adds per command (collision check included) beside a plain relay hop.

Both run as real processes on ipc; this script proposes one command at a time and times the
round trip to the output topic, relay and safety interleaved command by command. Prints p50/p99 for
each and the safety-minus-relay difference per round, and the median over rounds; then the same from
inside the nodes (their `stats` handler times), which leaves out the scheduler's wake-up noise.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from agent.runtime.bus import Publisher, RpcClient, Subscriber
from agent.runtime.messages import Command, Observation

REPO = Path(__file__).resolve().parents[1]
N = 1000  # commands per node per round
WARMUP = 50
ROUNDS = 3


def start(module: str, cfg: dict, path: Path) -> subprocess.Popen:
    path.write_text(json.dumps(cfg))
    return subprocess.Popen([sys.executable, "-m", module, "--config", str(path)], cwd=REPO, stderr=subprocess.DEVNULL)


def round_trip(pub: Publisher, sub: Subscriber, out_topic: str, cmd: Command) -> float:
    """Seconds from publishing `cmd` to receiving the node's output for it."""
    t0 = time.perf_counter()
    pub.publish("cmd.proposed", cmd)
    while True:
        got = sub.recv(timeout=1.0)
        if got is None:
            raise RuntimeError(f"no {out_topic} within 1 s")
        if got[0] == out_topic:
            return time.perf_counter() - t0


def measure(paths: dict[str, tuple[Publisher, Subscriber, str]], obs: Observation, n: int) -> dict[str, np.ndarray]:
    """Interleaved: each turn one command through the relay and one through safety, in alternating
    order, so both see the same machine (load, frequency, caches) and the difference is the node's."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    rng = np.random.default_rng(0)
    arm = np.array([0.0, 0.3, 0.6, 0.4, 0.0])
    names = list(paths)
    for i in range(n + WARMUP):
        if i % 5 == 0:
            paths["safety"][0].publish("obs", Observation(**{**obs.__dict__, "seq": 0, "stamp_mono": 0.0,
                                                             "stamp_wall": 0.0}))  # fmt: skip
        arm = arm + rng.uniform(-0.01, 0.01, 5)  # a moving arm: the self-collision check is never cached
        for name in names if i % 2 else names[::-1]:
            pub, sub, topic = paths[name]
            cmd = Command(base_vel=np.array([0.05, 0.0, 0.0]), arm=arm, gripper=0.5,
                          valid_until=time.monotonic() + 0.3, source="bench")  # fmt: skip
            dt = round_trip(pub, sub, topic, cmd)
            if i >= WARMUP:
                times[name].append(dt)
            time.sleep(0.002)
    return {name: np.array(t) * 1e3 for name, t in times.items()}


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="amibot-bench-"))
    feed, relay_feed = f"ipc://{tmp}/feed.pub", f"ipc://{tmp}/relay_feed.pub"
    pubs = {
        "safety": Publisher(feed),
        "relay": Publisher(relay_feed),
    }  # separate feeds: one node busy at a time
    safety_cfg = yaml.safe_load((REPO / "configs/safety/mobile_so101.yaml").read_text())
    safety_cfg.update(
        publish=f"ipc://{tmp}/safety.pub",
        rpc=f"ipc://{tmp}/safety.rpc",
        inputs={"cmd.proposed": feed, "obs": feed},
        estop_file=str(tmp / "estop.json"),
        watchdog={**safety_cfg["watchdog"], "obs_timeout_s": 5.0},
    )
    relay_cfg = {
        "name": "relay",
        "publish": f"ipc://{tmp}/relay.pub",
        "rpc": f"ipc://{tmp}/relay.rpc",
        "inputs": {"cmd.proposed": relay_feed},
        "input": "cmd.proposed",
        "output": "cmd.relayed",
    }
    procs = [
        start("agent.safety", safety_cfg, tmp / "safety.yaml"),
        start("agent.runtime.relay", relay_cfg, tmp / "relay.yaml"),
    ]
    try:
        for ep in (safety_cfg["rpc"], relay_cfg["rpc"]):
            RpcClient(ep).call("ping", timeout=5.0, retries=6)
        obs = Observation(
            head=np.zeros((8, 8, 3), np.uint8),
            base_pose=np.array([2.0, 2.0, 0.0]),
            base_vel=np.zeros(3),
            arm=np.array([0.0, 0.3, 0.6, 0.4, 0.0]),
            arm_vel=np.zeros(5),
            gripper=0.5,
        )
        paths = {}
        for name, ep, topic in (
            ("relay", relay_cfg["publish"], "cmd.relayed"),
            ("safety", safety_cfg["publish"], "cmd.safe"),
        ):
            paths[name] = (pubs[name], Subscriber([ep], [topic]), topic)
        time.sleep(0.5)  # subscriptions live
        rounds = [measure(paths, obs, N) for _ in range(ROUNDS)]
        stats = RpcClient(safety_cfg["rpc"]).call("stats")
        relay_stats = RpcClient(relay_cfg["rpc"]).call("stats")
        print("| round | relay p50 / p99 (ms) | safety p50 / p99 (ms) | added p50 | added p99 |")
        print("|---|---|---|---|---|")
        added: dict[int, list[float]] = {50: [], 99: []}
        for k, res in enumerate(rounds):
            q = {name: (np.percentile(t, 50), np.percentile(t, 99)) for name, t in res.items()}
            added[50].append(q["safety"][0] - q["relay"][0])
            added[99].append(q["safety"][1] - q["relay"][1])
            print(f"| {k + 1} | {q['relay'][0]:.3f} / {q['relay'][1]:.3f} | {q['safety'][0]:.3f} / "
                  f"{q['safety'][1]:.3f} | {added[50][-1]:.3f} | {added[99][-1]:.3f} |")  # fmt: skip
        print(f"\nadded by the safety node, median of {ROUNDS} interleaved rounds of {N} commands each: "
              f"p50 {np.median(added[50]):.3f} ms, p99 {np.median(added[99]):.3f} ms (target p99 <= 1 ms)")  # fmt: skip
        inside = {"relay": relay_stats["handler_ms"]["cmd.proposed"], "safety": stats["handler_ms"]["cmd.proposed"]}
        print(f"inside the node (decoded command in -> output published, last {inside['safety']['n']} commands): "
              f"relay p50 {inside['relay']['p50']:.3f} / p99 {inside['relay']['p99']:.3f} ms, safety p50 "
              f"{inside['safety']['p50']:.3f} / p99 {inside['safety']['p99']:.3f} ms; added p50 "
              f"{inside['safety']['p50'] - inside['relay']['p50']:.3f} ms, p99 "
              f"{inside['safety']['p99'] - inside['relay']['p99']:.3f} ms")  # fmt: skip
        print(
            f"safety counters: passed={stats['counters'].get('passed', 0)} "
            f"stopped={stats['counters'].get('stopped', 0)}"
        )
        for _, sub, _ in paths.values():
            sub.close()
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        for pub in pubs.values():
            pub.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
