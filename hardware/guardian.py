"""The wheel guardian: a small process the hardware node starts, which outlives it and stops the wheels.

The servos have no command watchdog: a wheel keeps its last goal speed when the node that set it dies
(SIGKILL, a crash, an unplugged adapter). The guardian holds the read end of a pipe from the node.
When the pipe closes (the node is gone, however it died) without the node having written `stopped`
(it brought the wheels to rest itself), the guardian reopens the port and writes zero wheel speed,
retrying until `--give-up-s`. It never touches the arm: the arm servos keep torque and their last goal.

    python -m hardware.guardian --port /dev/ttyACM0 --ids 7,8,9      # stdin: the node's pipe
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import time

from hardware.feetech import table as T
from hardware.feetech.bus import BusError, FeetechBus

CLEAN = b"stopped"  # the node's last words when it brought the wheels to rest itself
RETRY_S = 0.1


def stop_wheels(bus: FeetechBus, ids: list[int]) -> None:
    """Zero goal speed to every wheel (a broadcast, sent twice), then read each goal back to be sure."""
    for _ in range(2):  # a partial packet of the dead node may still be on the wire and swallow the first
        bus.sync_write(T.GOAL_SPEED, {i: 0 for i in ids})
    for i in ids:
        if bus.read(i, T.GOAL_SPEED) != 0:
            raise BusError(f"{bus.port_name}: wheel {i} kept a non-zero goal speed", kind="tx", servo_id=i)


def guard(port: str, baudrate: int, latency_ms: float, ids: list[int], give_up_s: float) -> int:
    """Wait for the node to end; unless it ended cleanly, stop the wheels. Exit code 0 when they are stopped."""
    said = sys.stdin.buffer.read()  # returns at EOF: when the node exits or dies
    if CLEAN in said:
        return 0
    deadline = time.monotonic() + give_up_s
    while True:
        try:
            with FeetechBus(port, baudrate, retries=2, latency_ms=latency_ms) as bus:
                stop_wheels(bus, ids)
            print(f"guardian: the hardware node died; wheels {ids} stopped on {port}", file=sys.stderr)
            return 0
        except BusError as exc:
            if time.monotonic() > deadline:
                print(f"guardian: the hardware node died and the wheels could not be stopped: {exc}. "
                      "Cut servo power (hardware e-stop)", file=sys.stderr)  # fmt: skip
                return 1
        time.sleep(RETRY_S)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hardware.guardian", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--port", required=True)
    ap.add_argument("--ids", required=True, help="wheel servo ids, comma separated")
    ap.add_argument("--baudrate", type=int, default=1_000_000)
    ap.add_argument("--latency-ms", type=float, default=16.0)
    ap.add_argument("--give-up-s", type=float, default=3.0, help="how long to retry a port that is gone")
    a = ap.parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM):  # a Ctrl-C or a group kill must not end it before its duty
        signal.signal(sig, signal.SIG_IGN)
    try:
        print("ready", flush=True)
    except BrokenPipeError:  # the node is gone already (e.g. it refused to start): the duty below still holds
        sys.stdout = open(os.devnull, "w")  # no second BrokenPipeError at exit
    return guard(a.port, a.baudrate, a.latency_ms, [int(x) for x in a.ids.split(",")], a.give_up_s)


if __name__ == "__main__":
    raise SystemExit(main())


class Guardian:
    """The hardware node's handle on its guardian process."""

    def __init__(self, port: str, baudrate: int, latency_ms: float, ids: list[int]) -> None:
        args = [sys.executable, "-m", "hardware.guardian", "--port", port, "--ids", ",".join(map(str, ids)),
                "--baudrate", str(baudrate), "--latency-ms", str(latency_ms)]  # fmt: skip
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        if not (ready and self.proc.stdout.readline().strip() == b"ready"):
            self.release(clean=True)
            raise RuntimeError(f"wheel guardian did not start within {timeout_s}s (exit code {self.proc.poll()})")

    def release(self, clean: bool) -> None:
        """clean: the node stopped the wheels itself, the guardian just exits; else it stops them now."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            if clean:
                self.proc.stdin.write(CLEAN)
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # the guardian is already gone: nothing to tell it
        self.proc.stdout.close()
        if clean:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass  # it exits on its own; the node must not hang on it
