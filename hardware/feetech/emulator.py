"""An emulated STS3215 bus on a pseudo-terminal: the real wire protocol, a control table per servo,
first-order motion toward goal positions / wheel speeds, and injectable faults.

    python -m hardware.feetech.emulator --calibration configs/hardware/calibration/so101_follower.yaml --ids 7,8,9

prints the pty path (open it like /dev/ttyUSB0) and serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import tty
from collections import Counter
from dataclasses import dataclass

from hardware.feetech import table as T

INST_PING, INST_READ, INST_WRITE, INST_SYNC_READ, INST_SYNC_WRITE = 0x01, 0x02, 0x03, 0x82, 0x83
BROADCAST = 0xFE
READ_ONLY = set(range(0, 5)) | set(range(56, 72))
TAU_S = 0.03  # time constant [s] of the motion toward goal position / goal speed


@dataclass
class Faults:
    """What a servo does wrong: stop answering, corrupt reply checksums, report error bits."""

    silent: bool = False
    corrupt: bool = False
    error_bits: int = 0


class EmulatedServo:
    """An STS3215 control table plus a first-order motor model."""

    def __init__(self, servo_id: int, position: int = 2048, wave: float = 0.0) -> None:
        self.table = bytearray(256)
        self.faults = Faults()
        self.pos, self.vel = float(position), 0.0
        self.wave = wave  # torque off: the position swings by this many ticks (a hand moving a leader arm)
        self.home, self.t = float(position), 0.0
        for reg, value in ((T.MODEL, T.MODEL_STS3215), (T.ID, servo_id), (T.MAX_ANGLE, 4095), (T.LOCK, 1),
                           (T.VOLTAGE, 120), (T.TEMPERATURE, 30), (T.GOAL_POSITION, position)):  # fmt: skip
            self.set(reg, value)
        self._publish()

    @property
    def id(self) -> int:
        return self.table[T.ID[0]]

    def get(self, reg: T.Register) -> int:
        addr, size = reg
        return T.from_bytes(self.table[addr : addr + size])

    def set(self, reg: T.Register, value: int) -> None:
        addr, size = reg
        self.table[addr : addr + size] = bytes(T.to_bytes(value, size))

    def write(self, addr: int, data: bytes) -> None:
        """A WRITE from the bus: EEPROM only while unlocked, read-only bytes never."""
        for i, b in enumerate(data):
            a = addr + i
            if a in READ_ONLY or (a < T.EEPROM_END and self.table[T.LOCK[0]] and a != T.LOCK[0]):
                continue
            self.table[a] = b

    def reading(self) -> int:
        """Present position as the servo reports it: the encoder (0..4095) minus the offset register, mod a turn."""
        return (round(self.pos) - T.decode(T.HOMING_OFFSET, self.get(T.HOMING_OFFSET))) % T.TICKS_PER_REV

    def step(self, dt: float) -> None:
        self.t += dt
        mode, torque = self.get(T.MODE), self.get(T.TORQUE_ENABLE)
        acc = self.get(T.ACCELERATION) * T.ACC_UNIT
        if torque and mode == T.MODE_POSITION:
            goal = min(max(self.get(T.GOAL_POSITION), self.get(T.MIN_ANGLE)), self.get(T.MAX_ANGLE))
            vmax = T.decode_signed(self.get(T.GOAL_SPEED), 15) or T.MAX_SPEED_STEPS
            target_v = max(-vmax, min(vmax, (goal - self.reading()) / TAU_S))  # the servo's loop: no wrap
        elif torque and mode == T.MODE_WHEEL:
            target_v = float(T.decode_signed(self.get(T.GOAL_SPEED), 15))
        else:
            target_v = 0.0
        if acc:
            self.vel += max(-acc * dt, min(acc * dt, target_v - self.vel))
        else:
            self.vel += (target_v - self.vel) * min(1.0, dt / TAU_S * 4)
        self.pos += self.vel * dt
        if not torque and self.wave:
            self.pos = self.home + self.wave * math.sin(0.5 * math.pi * self.t)
        self.pos %= T.TICKS_PER_REV  # the magnetic encoder: one turn, 0..4095
        self._publish()

    def _publish(self) -> None:
        self.set(T.PRESENT_POSITION, T.encode(T.PRESENT_POSITION, self.reading()))
        self.set(T.PRESENT_SPEED, T.encode(T.PRESENT_SPEED, round(self.vel)))
        self.set(T.MOVING, int(abs(self.vel) > 5))
        self.set(T.STATUS, self.faults.error_bits)

    def status(self, params: bytes = b"") -> bytes:
        """A status packet from this servo (checksum corrupted when that fault is on)."""
        body = bytes([self.id, len(params) + 2, self.faults.error_bits]) + params
        checksum = ~sum(body) & 0xFF
        return b"\xff\xff" + body + bytes([checksum ^ 0x5A if self.faults.corrupt else checksum])


class EmulatedBus:
    """Servos behind one pty: parses instruction packets from the master side and answers them."""

    def __init__(self, servos: list[EmulatedServo]) -> None:
        self.servos = {s.id: s for s in servos}
        self.lock = threading.Lock()  # held while a packet is handled / servos move; take it to inspect
        self.counters: Counter[str] = Counter()
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo or newline translation even before a client configures it
        self.path = os.ttyname(self.slave)
        self.error: BaseException | None = None
        self._buf = bytearray()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatedBus:
        self._thread = threading.Thread(target=self._run, name="feetech-emulator", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        self._stop.set()

    def unplug(self) -> None:
        """The adapter is pulled out: serving ends and the pty closes, so its user gets I/O errors."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1

    def stop(self) -> None:
        """End the serving thread, close the pty and re-raise anything that failed in it."""
        self.unplug()
        if self.error is not None:
            raise RuntimeError(f"emulator failed: {self.error!r}") from self.error

    def _run(self) -> None:
        try:
            self.serve()
        except BaseException as exc:  # kept and re-raised by stop(); the thread must not die silently
            self.error = exc
            raise

    def serve(self) -> None:
        """Answer packets and move the servos until stop()."""
        last = time.monotonic()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.005)
            data = os.read(self.master, 4096) if ready else b""
            with self.lock:
                now = time.monotonic()
                for s in self.servos.values():
                    s.step(now - last)
                last = now
                self._buf += data
                for reply in self._handle_buffer():
                    os.write(self.master, reply)

    def _handle_buffer(self) -> list[bytes]:
        replies = []
        while True:
            start = self._buf.find(b"\xff\xff")
            if start < 0:
                del self._buf[:-1]
                return replies
            del self._buf[:start]
            if len(self._buf) < 4 or len(self._buf) < 4 + self._buf[3]:
                return replies
            packet = bytes(self._buf[: 4 + self._buf[3]])
            if ~sum(packet[2:-1]) & 0xFF != packet[-1]:
                self.counters["bad_checksum"] += 1
                del self._buf[:2]
                continue
            del self._buf[: len(packet)]
            self.counters["packets"] += 1
            replies += self._dispatch(packet[2], packet[4], packet[5:-1])

    def _dispatch(self, servo_id: int, inst: int, params: bytes) -> list[bytes]:
        if inst == INST_SYNC_WRITE:
            addr, size = params[0], params[1]
            for k in range(2, len(params) - size, size + 1):
                s = self.servos.get(params[k])
                if s is not None and not s.faults.silent:
                    s.write(addr, params[k + 1 : k + 1 + size])
            return []
        if inst == INST_SYNC_READ:
            addr, size = params[0], params[1]
            live = [self.servos.get(i) for i in params[2:]]
            return [s.status(bytes(s.table[addr : addr + size])) for s in live if s and not s.faults.silent]
        targets = list(self.servos.values()) if servo_id == BROADCAST else [self.servos.get(servo_id)]
        replies = []
        for s in targets:
            if s is None or s.faults.silent:
                continue
            if inst == INST_WRITE:
                s.write(params[0], params[1:])
                self._rekey()
            if servo_id == BROADCAST:
                continue
            if inst == INST_READ:
                replies.append(s.status(bytes(s.table[params[0] : params[0] + params[1]])))
            elif inst in (INST_PING, INST_WRITE):
                replies.append(s.status())
            else:
                self.counters["unknown_instruction"] += 1
        return replies

    def _rekey(self) -> None:
        """A WRITE to the ID register moves the servo to its new id."""
        self.servos = {s.id: s for s in self.servos.values()}


def servos_from_args(calibration: str, ids: list[int], wave: float) -> list[EmulatedServo]:
    """Servos at the zero pose of a calibration file, plus extra ids (wheels) at mid range."""
    from hardware.feetech.calibration import load_calibration

    servos = []
    if calibration:
        servos = [EmulatedServo(j.id, j.homing_offset, wave) for j in load_calibration(calibration).all_joints]
    return servos + [EmulatedServo(i, 2048, wave) for i in ids if i not in {s.id for s in servos}]


class EmulatorProcess:
    """The emulator as a child process (dies with its parent); `path` is its pty."""

    def __init__(self, calibration: str = "", ids: list[int] | None = None, wave: float = 0.0,
                 timeout_s: float = 10.0) -> None:  # fmt: skip
        args = [sys.executable, "-m", "hardware.feetech.emulator", "--wave", str(wave)]
        if calibration:
            args += ["--calibration", str(calibration)]
        if ids:
            args += ["--ids", ",".join(map(str, ids))]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, preexec_fn=_die_with_parent)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("/dev/"):
            self.close()
            raise RuntimeError(f"emulator did not start within {timeout_s}s (exit code {self.proc.returncode})")
        self.path = line

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _die_with_parent() -> None:
    """Child side: SIGTERM when the parent dies, so no emulator outlives its node."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hardware.feetech.emulator", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--calibration", default="", help="calibration YAML: servo ids, start at their zero pose")
    ap.add_argument("--ids", default="", help="more servo ids, comma separated (e.g. wheels 7,8,9)")
    ap.add_argument("--wave", type=float, default=0.0, help="torque-off servos swing by this many ticks")
    a = ap.parse_args(argv)
    ids = [int(x) for x in a.ids.split(",") if x.strip()]
    servos = servos_from_args(a.calibration, ids, a.wave)
    if not servos:
        ap.error("no servos: give --calibration and/or --ids")
    bus = EmulatedBus(servos)
    print(bus.path, flush=True)
    print(f"emulated Feetech bus on {bus.path}: servos {sorted(bus.servos)}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: bus.request_stop())
    try:
        bus.serve()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
