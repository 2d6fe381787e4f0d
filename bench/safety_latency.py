"""Latency the safety node adds per command (collision check included) beside a plain relay hop.

Both run as real processes on ipc; this script proposes one command at a time and times the
round trip to the output topic. Prints p50/p99 for each and the safety-minus-relay difference.
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
N = 1000


def start(module: str, cfg: dict, path: Path) -> subprocess.Popen:
    path.write_text(json.dumps(cfg))
    return subprocess.Popen([sys.executable, "-m", module, "--config", str(path)], cwd=REPO, stderr=subprocess.DEVNULL)


def measure(pub: Publisher, sub: Subscriber, out_topic: str, obs: Observation) -> np.ndarray:
    times = []
    rng = np.random.default_rng(0)
    arm = np.array([0.0, 0.3, 0.6, 0.4, 0.0])
    for i in range(N + 50):
        if i % 5 == 0:
            pub.publish(
                "obs",
                Observation(**{**obs.__dict__, "seq": 0, "stamp_mono": 0.0, "stamp_wall": 0.0}),
            )
        arm = arm + rng.uniform(-0.01, 0.01, 5)  # a moving arm: the self-collision check is never cached
        cmd = Command(
            base_vel=np.array([0.05, 0.0, 0.0]),
            arm=arm,
            gripper=0.5,
            valid_until=time.monotonic() + 0.3,
            source="bench",
        )
        t0 = time.perf_counter()
        pub.publish("cmd.proposed", cmd)
        while True:
            got = sub.recv(timeout=1.0)
            if got is None:
                raise RuntimeError(f"no {out_topic} within 1 s")
            if got[0] == out_topic:
                break
        if i >= 50:
            times.append(time.perf_counter() - t0)
        time.sleep(0.002)
    return np.array(times) * 1e3


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
        results = {}
        for name, ep, topic in (
            ("relay", relay_cfg["publish"], "cmd.relayed"),
            ("safety", safety_cfg["publish"], "cmd.safe"),
        ):
            sub = Subscriber([ep], [topic])
            time.sleep(0.5)  # subscription live
            results[name] = measure(pubs[name], sub, topic, obs)
            sub.close()
        stats = RpcClient(safety_cfg["rpc"]).call("stats")
        for name, t in results.items():
            print(f"{name:>7}: p50 {np.percentile(t, 50):.3f} ms  p99 {np.percentile(t, 99):.3f} ms  (n={len(t)})")
        added = {q: np.percentile(results["safety"], q) - np.percentile(results["relay"], q) for q in (50, 99)}
        ratio = {q: np.percentile(results["safety"], q) / np.percentile(results["relay"], q) for q in (50, 99)}
        print(f"  added: p50 {added[50]:.3f} ms  p99 {added[99]:.3f} ms  (target p99 <= 1 ms)")
        print(f"  ratio safety/relay: p50 {ratio[50]:.2f}x  p99 {ratio[99]:.2f}x")
        print(
            f"  safety counters: passed={stats['counters'].get('passed', 0)} "
            f"stopped={stats['counters'].get('stopped', 0)}"
        )
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        for pub in pubs.values():
            pub.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
