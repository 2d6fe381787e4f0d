"""A Feetech STS/SMS servo bus over the vendor SDK (scservo_sdk): reads, writes, sync read/write, retries.

Every failure raises BusError naming the port, the servo id and what failed; all are counted.
"""

from __future__ import annotations

import termios
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import serial
from scservo_sdk import (
    COMM_RX_CORRUPT,
    COMM_RX_TIMEOUT,
    COMM_SUCCESS,
    GroupSyncRead,
    GroupSyncWrite,
    PacketHandler,
    PortHandler,
)

from hardware.feetech import table as T
from hardware.feetech.table import Register, decode, encode, error_names, from_bytes, to_bytes

R = TypeVar("R")
RETRYABLE = ("no_reply", "corrupt")
PORT_ERRORS = (serial.SerialException, OSError, termios.error)  # the adapter went away mid-transaction


class BusError(RuntimeError):
    """A bus transaction failed; kind: port, tx, no_reply, corrupt, servo_error."""

    def __init__(self, message: str, *, kind: str, servo_id: int | None = None, error_bits: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.servo_id = servo_id
        self.error_bits = error_bits


class _Port(PortHandler):
    """The SDK's port with its reply timeout built on a configurable USB latency instead of a fixed 16 ms."""

    def __init__(self, port_name: str, latency_ms: float) -> None:
        super().__init__(port_name)
        self.latency_ms = latency_ms

    def setPacketTimeout(self, packet_length: int) -> None:  # noqa: N802 (the SDK's name)
        self.packet_start_time = self.getCurrentTime()
        self.packet_timeout = self.tx_time_per_byte * packet_length + 2 * self.latency_ms + 2.0


class FeetechBus:
    """One serial bus of STS/SMS servos (protocol_end=0, little-endian registers)."""

    def __init__(self, port: str, baudrate: int = 1_000_000, retries: int = 2, latency_ms: float = 16.0) -> None:
        self.port_name = port
        self.baudrate = baudrate
        self.retries = retries
        self.latency_ms = latency_ms  # USB-serial latency timer; a reply is awaited 2 x this + 2 ms
        self.counters: Counter[str] = Counter()
        self.port: _Port | None = None
        self.ph = PacketHandler(0)
        self._reads: dict[tuple[int, int, tuple[int, ...]], GroupSyncRead] = {}
        self._writes: dict[tuple[int, int], GroupSyncWrite] = {}

    # ----- port ---------------------------------------------------------------------------
    def open(self) -> FeetechBus:
        if not Path(self.port_name).exists():
            raise BusError(f"serial port {self.port_name} does not exist (adapter unplugged? see "
                           "`ls /dev/serial/by-id/`)", kind="port")  # fmt: skip
        port = _Port(self.port_name, self.latency_ms)
        try:
            opened = port.openPort() and port.setBaudRate(self.baudrate)
        except (serial.SerialException, OSError) as exc:
            raise BusError(f"cannot open serial port {self.port_name}: {exc}", kind="port") from None
        if not opened:
            raise BusError(f"serial port {self.port_name}: baud rate {self.baudrate} not supported", kind="port")
        self.port = port
        return self

    def close(self) -> None:
        if self.port is not None and self.port.is_open:
            self.port.closePort()
        self.port = None
        self._reads.clear()  # sync groups hold the port: a reopened bus builds new ones
        self._writes.clear()

    def __enter__(self) -> FeetechBus:
        return self.open() if self.port is None else self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _port(self) -> _Port:
        if self.port is None:
            raise BusError(f"bus {self.port_name} is not open", kind="port")
        return self.port

    # ----- transactions -------------------------------------------------------------------
    def ping(self, servo_id: int) -> int:
        """The servo's model number (777 for an STS3215)."""

        def once() -> int:
            model, result, error = self.ph.ping(self._port(), servo_id)
            self._check(result, error, servo_id, "ping")
            return int(model)

        return self._retry(once)

    def read(self, servo_id: int, reg: Register) -> int:
        """One register of one servo (signed where the table declares a sign bit)."""
        addr, size = reg

        def once() -> int:
            data, result, error = self.ph.readTxRx(self._port(), servo_id, addr, size)
            self._check(result, error, servo_id, f"read of address {addr}")
            return decode(reg, from_bytes(data))

        return self._retry(once)

    def write(self, servo_id: int, reg: Register, value: int) -> None:
        """One register of one servo (acknowledged by the servo); signed values are sign-magnitude encoded."""
        if reg == T.ID:
            raise ValueError("the ID register answers from the new id: use FeetechBus.set_id(old, new)")
        addr, size = reg
        data = to_bytes(encode(reg, value), size)

        def once() -> None:
            result, error = self.ph.writeTxRx(self._port(), servo_id, addr, size, data)
            self._check(result, error, servo_id, f"write of address {addr}")

        self._retry(once)

    def set_id(self, old: int, new: int) -> None:
        """Give servo `old` the id `new` (an EEPROM write, unlocked for it); its reply comes from `new`."""
        if not 0 <= new <= 252:
            raise ValueError(f"servo id {new} not in 0..252")
        self.write(old, T.LOCK, 0)

        def once() -> None:
            port = self._port()
            self._check(self.ph.writeTxOnly(port, old, T.ID[0], 1, [new]), 0, old, "write of the id")
            port.setPacketTimeout(6)  # a status packet without parameters
            reply, result = self.ph.rxPacket(port)
            self._check(result, reply[4] if result == COMM_SUCCESS else 0, new, f"id change {old} -> {new}")
            if reply[2] != new:
                raise BusError(f"{self.port_name}: servo {old}: id change answered by servo {reply[2]}, "
                               f"expected {new}", kind="corrupt", servo_id=old)  # fmt: skip

        self._retry(once)
        self.write(new, T.LOCK, 1)

    def sync_read(self, reg: Register, ids: Iterable[int]) -> dict[int, int]:
        """One register of several servos in one transaction; each servo's reply and error bits checked."""
        addr, size = reg
        ids = tuple(ids)
        group = self._reads.get((addr, size, ids))
        if group is None:
            group = self._reads[(addr, size, ids)] = GroupSyncRead(self._port(), self.ph, addr, size)
            for i in ids:
                group.addParam(i)

        def once() -> dict[int, int]:
            port = self._port()
            result = group.txPacket()
            self._check(result, 0, None, f"sync read of address {addr}")
            out, failure = {}, None
            for i in ids:  # the SDK's GroupSyncRead.rxPacket drops the error byte: read each reply here
                data, result, error = self.ph.readRx(port, i, size)
                try:
                    self._check(result, error, i, f"sync read of address {addr}")
                except BusError as exc:
                    failure = failure or exc
                    if exc.kind != "servo_error":
                        break
                out[i] = decode(reg, from_bytes(data))
            if failure is not None:
                raise failure
            return out

        return self._retry(once)

    def sync_write(self, reg: Register, values: dict[int, int]) -> None:
        """One register of several servos in one broadcast packet (servos do not reply); signed values are
        sign-magnitude encoded."""
        addr, size = reg
        data = {i: to_bytes(encode(reg, v), size) for i, v in values.items()}
        group = self._writes.get((addr, size))
        if group is None:
            group = self._writes[(addr, size)] = GroupSyncWrite(self._port(), self.ph, addr, size)
        group.clearParam()
        for i, d in data.items():
            group.addParam(i, d)

        def once() -> None:
            self._check(group.txPacket(), 0, None, f"sync write of address {addr}")

        self._retry(once)

    # ----- errors and retries -------------------------------------------------------------
    def _flush_input(self) -> None:
        """Drop stale bytes (late replies of a failed transaction) before the next request."""
        port = self._port()
        if port.ser is not None:
            port.ser.reset_input_buffer()
        port.is_using = False

    def _retry(self, fn: Callable[[], R]) -> R:
        """Run one transaction; no reply / corrupt replies are retried up to `retries` times."""
        for attempt in range(self.retries + 1):
            self.counters["transactions"] += 1
            try:
                try:
                    self._flush_input()
                    return fn()
                except PORT_ERRORS as exc:
                    raise BusError(f"serial port {self.port_name} failed: {exc}", kind="port") from exc
            except BusError as exc:
                self.counters[f"error.{exc.kind}"] += 1
                if exc.kind not in RETRYABLE or attempt == self.retries:
                    raise
                self.counters["retries"] += 1
        raise AssertionError("unreachable")

    def _check(self, result: int, error: int, servo_id: int | None, what: str) -> None:
        where = f"{self.port_name}: servo {servo_id}" if servo_id is not None else self.port_name
        if result == COMM_RX_TIMEOUT:
            raise BusError(f"{where}: no reply to {what}", kind="no_reply", servo_id=servo_id)
        if result == COMM_RX_CORRUPT:
            raise BusError(f"{where}: corrupt reply to {what} (checksum error or truncated)", kind="corrupt",
                           servo_id=servo_id)  # fmt: skip
        if result != COMM_SUCCESS:
            raise BusError(f"{where}: {what} failed: {self.ph.getTxRxResult(result)}", kind="tx", servo_id=servo_id)
        if error:
            raise BusError(f"{where}: servo error during {what}: {', '.join(error_names(error))}",
                           kind="servo_error", servo_id=servo_id, error_bits=error)  # fmt: skip
