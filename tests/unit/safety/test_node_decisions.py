"""The node's decision path without processes: fail-closed on errors, e-stop latch, watchdog ticks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent.runtime.bus import RpcServer
from agent.runtime.messages import Command, Heartbeat, Observation
from agent.safety.estop import EstopTripped
from agent.safety.node import SafetyNode
from tests.unit.safety.conftest import load


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[SafetyNode, list]]:
    cfg = load(
        "collision.scene=",
        f"estop_file={tmp_path}/estop.json",
        f"event_log={tmp_path}/events.jsonl",
        f"publish=inproc://safety-{tmp_path.name}",
        "watchdog.require_peers=[perception]",
    )
    n = SafetyNode(cfg)
    n.setup()
    sent: list = []
    n.publish = lambda topic, msg: sent.append((topic, msg)) or msg  # type: ignore[method-assign]
    n.peers["perception"] = (Heartbeat(node="perception", ready=True), time.monotonic())
    n._on_obs(observation())
    yield n, sent
    n.teardown()
    n.close()


def observation(episode: int = 0, seq: int = 0) -> Observation:
    return Observation(head=np.zeros((8, 8, 3), np.uint8), base_pose=np.array([2.0, 2.0, 0.0]), base_vel=np.zeros(3),
                       arm=np.zeros(5), arm_vel=np.zeros(5), gripper=0.5, episode=episode, seq=seq)  # fmt: skip


def command(seq: int, vx: float = 0.1) -> Command:
    now = time.monotonic()
    return Command(
        base_vel=np.array([vx, 0, 0]),
        arm=np.zeros(5),
        gripper=0.5,
        valid_until=now + 0.3,
        source="planner",
        seq=seq,
        stamp_mono=now,
    )


def safe(sent: list) -> list[Command]:
    return [m for t, m in sent if t == "cmd.safe"]


def test_a_good_command_passes_and_an_exception_in_a_check_stops(
    node: tuple[SafetyNode, list],
) -> None:
    n, sent = node
    n._on_proposed(command(1))
    assert safe(sent)[-1].base_vel[0] == pytest.approx(0.08)  # accelerating within 0.8 m/s^2
    n.monitor.envelope = lambda *a: 1 / 0  # type: ignore[assignment, misc]
    n._on_proposed(command(2))
    out = safe(sent)[-1]
    assert out.base_vel[0] <= 0.08 and np.all(out.arm == 0)
    assert n.counters["internal_error"] == 1 and n.counters["stop.internal_error"] == 1


def test_estop_latches_across_restart_and_reset_needs_a_fresh_command(
    node: tuple[SafetyNode, list], tmp_path: Path
) -> None:
    n, sent = node
    n._set_estop(True, "test")
    n._on_proposed(command(1))
    assert n.counters["estop.estop_latched"] >= 1 and np.all(safe(sent)[-1].base_vel == 0)
    again = SafetyNode(
        load(
            "collision.scene=",
            f"estop_file={tmp_path}/estop.json",
            f"publish=inproc://safety-again-{tmp_path.name}",
        )
    )
    assert again.latch.poll().tripped  # a restarted node is still tripped
    again.close()
    n._set_estop(False, "checked the robot")
    n._on_proposed(command(2))  # a reset releases the latch but does not restart motion (IEC 60204-1)
    assert n.counters["stop.resume_needed"] == 1 and np.all(safe(sent)[-1].base_vel == 0)
    n._tick()
    assert n.fault_reasons >= {"resume_needed"} and np.all(safe(sent)[-1].base_vel == 0)
    stale = command(3)
    n._resume("operator: go")
    n._on_proposed(stale)  # issued before the resume: refused
    assert n.counters["stop.before_reset"] == 1
    n._on_proposed(command(4))
    assert safe(sent)[-1].base_vel[0] > 0


def test_resume_is_refused_while_tripped_and_a_restart_stays_held(
    node: tuple[SafetyNode, list], tmp_path: Path
) -> None:
    n, sent = node
    n._set_estop(True, "test")
    with pytest.raises(EstopTripped, match="reset it first"):
        n._resume("too early")
    assert n.latch.poll().tripped
    n._set_estop(False, "checked")
    again = SafetyNode(load("collision.scene=", f"estop_file={tmp_path}/estop.json",
                            f"publish=inproc://safety-again-{tmp_path.name}"))  # fmt: skip
    state = again.latch.poll()
    again.close()
    assert state.resume_needed and not state.tripped  # a restarted node still waits for the resume


def test_a_new_episode_is_an_explicit_start_after_a_reset(node: tuple[SafetyNode, list]) -> None:
    n, sent = node
    n._set_estop(True, "test")
    n._on_obs(observation(episode=1, seq=5))  # a new task while tripped changes nothing
    n._set_estop(False, "checked")
    n._on_obs(observation(episode=1, seq=6))
    n._on_proposed(command(1))
    assert n.counters["stop.resume_needed"] == 1
    n._on_obs(observation(episode=2, seq=7))  # the backend was reset: a new task
    n._on_proposed(command(2))
    assert not n.latch.poll().resume_needed and safe(sent)[-1].base_vel[0] > 0


def test_watchdog_tick_stops_on_missing_heartbeat_and_logs_once(
    node: tuple[SafetyNode, list],
) -> None:
    n, sent = node
    n._on_proposed(command(1))
    n.peers["perception"] = (Heartbeat(node="perception", ready=True), time.monotonic() - 10)
    for _ in range(3):
        n._tick()
    assert len(safe(sent)) == 4 and all(np.all(c.arm == 0) for c in safe(sent))
    events = [m for t, m in sent if t == "safety_events" and m.reason == "heartbeat_missing"]
    assert len(events) == 1 and n.counters["stop_ticks"] == 3
    assert "heartbeat_missing" in Path(n.cfg.event_log).read_text()


def test_a_restarted_backend_is_asked_for_its_scene_again(tmp_path: Path) -> None:
    """Same episode number, another seed: a backend that restarted (its obs seq starts over) is re-queried."""
    endpoint = f"ipc://{tmp_path}/backend.rpc"
    answer = {"scene": "apartment", "seed": 1, "task": "fetch", "episode": 1}
    server = RpcServer(endpoint, {"scene": lambda _: dict(answer)})
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            server.handle_pending()
            time.sleep(0.001)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    n = SafetyNode(load(f"estop_file={tmp_path}/estop.json", f"publish=inproc://safety-r-{tmp_path.name}",
                        f"backend_rpc={endpoint}", "collision.seed=1"))  # fmt: skip
    try:
        n.setup()

        def observe(seq: int) -> None:
            n._on_obs(Observation(head=np.zeros((8, 8, 3), np.uint8), base_pose=np.array([2.0, 2.0, 0.0]),
                                  base_vel=np.zeros(3), arm=np.zeros(5), arm_vel=np.zeros(5), gripper=0.5,
                                  episode=1, seq=seq))  # fmt: skip

        for seq in (1, 2, 3):
            observe(seq)
        assert n.scene == ("apartment", 1) and n.follower is not None and n.follower.known
        answer["seed"] = 6  # the backend restarts (same config key, another seed) and is again in episode 1
        observe(1)
        assert n.scene == ("apartment", 6), "the restarted backend's scene was not fetched"
        assert n.counters["scene.backend_restarts"] == 1 and n.follower.known
    finally:
        stop.set()
        thread.join()
        n.teardown()
        n.close()
        server.sock.close()
