"""The STS3215 (STS/SMS series) control table, status error bits and register encodings.

Addresses follow Feetech's SMS_STS.h (memory table of the STS/SMS series); multi-byte values are
little-endian (protocol_end=0), signed values are sign-magnitude with the sign in a high bit.
"""

from __future__ import annotations

MODEL_STS3215 = 777
TICKS_PER_REV = 4096
MAX_SPEED_STEPS = 3400  # steps/s, about 50 rpm: the fastest a wheel/joint may be commanded
ACC_UNIT = 100  # steps/s^2 per unit of the acceleration register (0..254)

Register = tuple[int, int]  # (address, size in bytes)

# name: (address, size in bytes)
MODEL = (3, 2)
ID = (5, 1)
BAUD = (6, 1)
MIN_ANGLE = (9, 2)
MAX_ANGLE = (11, 2)
HOMING_OFFSET = (31, 2)
MODE = (33, 1)
TORQUE_ENABLE = (40, 1)
ACCELERATION = (41, 1)
GOAL_POSITION = (42, 2)
GOAL_TIME = (44, 2)
GOAL_SPEED = (46, 2)
LOCK = (55, 1)
PRESENT_POSITION = (56, 2)
PRESENT_SPEED = (58, 2)
PRESENT_LOAD = (60, 2)
VOLTAGE = (62, 1)
TEMPERATURE = (63, 1)
STATUS = (65, 1)
MOVING = (66, 1)
PRESENT_CURRENT = (69, 2)
EEPROM_END = 40  # addresses below this are EEPROM: writable only while LOCK is 0

MODE_POSITION = 0
MODE_WHEEL = 1  # closed-loop velocity

# baud register value -> bits per second (register value 5, 76800 bps, is left out: the SDK cannot open it)
BAUD_RATES = {0: 1_000_000, 1: 500_000, 2: 250_000, 3: 128_000, 4: 115_200, 6: 57_600, 7: 38_400}

# status packet error byte
ERROR_BITS = {1: "voltage", 2: "angle", 4: "overheat", 8: "overcurrent", 32: "overload"}

# sign bit of each signed register
SIGN_BIT = {GOAL_SPEED: 15, PRESENT_SPEED: 15, PRESENT_POSITION: 15, HOMING_OFFSET: 11, PRESENT_LOAD: 10,
            PRESENT_CURRENT: 15}  # fmt: skip


def error_names(bits: int) -> list[str]:
    """Names of the error bits set in a status packet's error byte."""
    names = [name for bit, name in ERROR_BITS.items() if bits & bit]
    unknown = bits & ~sum(ERROR_BITS)
    return names + ([f"0x{unknown:02x}"] if unknown else [])


def encode_signed(value: int, sign_bit: int) -> int:
    """Sign-magnitude register value of a signed integer."""
    magnitude = min(abs(int(value)), (1 << sign_bit) - 1)
    return magnitude | (1 << sign_bit) if value < 0 else magnitude


def decode_signed(raw: int, sign_bit: int) -> int:
    """Signed integer from a sign-magnitude register value."""
    magnitude = raw & ((1 << sign_bit) - 1)
    return -magnitude if raw & (1 << sign_bit) else magnitude


def encode(reg: Register, value: int) -> int:
    """The raw register value of an integer: sign-magnitude where the table declares a sign bit; a value
    that does not fit (or a negative one for an unsigned register) is a ValueError, never wrapped."""
    value, sign_bit = int(value), SIGN_BIT.get(reg)
    limit = (1 << sign_bit) if sign_bit is not None else (1 << (8 * reg[1]))
    if not (-limit < value < limit if sign_bit is not None else 0 <= value < limit):
        raise ValueError(f"value {value} does not fit register {reg} (address {reg[0]})")
    return encode_signed(value, sign_bit) if sign_bit is not None else value


def decode(reg: Register, raw: int) -> int:
    """The integer a raw register value stands for (the sign bit applied where the table declares one)."""
    sign_bit = SIGN_BIT.get(reg)
    return decode_signed(raw, sign_bit) if sign_bit is not None else raw


def to_bytes(value: int, size: int) -> list[int]:
    """Little-endian bytes of an unsigned register value."""
    return [(value >> (8 * i)) & 0xFF for i in range(size)]


def from_bytes(data: list[int] | bytes) -> int:
    """Unsigned register value from little-endian bytes."""
    return sum(b << (8 * i) for i, b in enumerate(data))
