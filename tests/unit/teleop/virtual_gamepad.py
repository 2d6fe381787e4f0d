"""A real SDL virtual joystick (SDL >= 2.0.14) in the SDL library pygame loaded, for gamepad tests.

pygame.joystick sees it like a plugged-in pad: axis and button changes reach pygame on its next
event pump, and detach() is an unplug (SDL posts JOYDEVICEREMOVED)."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

from agent.teleop.gamepad import import_pygame

SDL_JOYSTICK_TYPE_GAMECONTROLLER = 1


def sdl_library() -> ctypes.CDLL:
    """The SDL2 shared library already mapped into this process by pygame (same state, same pads)."""
    pygame = import_pygame()
    pygame.display.init()
    pygame.joystick.init()
    pattern = re.compile(r"/libSDL2-2[.-][^/]*\.so[^/]*$")
    paths = [line.split(None, 5)[-1] for line in Path("/proc/self/maps").read_text().splitlines()]
    found = sorted({p for p in paths if pattern.search(p)})
    if not found:
        raise RuntimeError("pygame's SDL2 library is not mapped in this process")
    sdl = ctypes.CDLL(found[0])
    sdl.SDL_JoystickAttachVirtual.argtypes = [ctypes.c_int] * 4
    sdl.SDL_JoystickDetachVirtual.argtypes = [ctypes.c_int]
    sdl.SDL_JoystickOpen.argtypes = [ctypes.c_int]
    sdl.SDL_JoystickOpen.restype = ctypes.c_void_p
    sdl.SDL_JoystickClose.argtypes = [ctypes.c_void_p]
    sdl.SDL_JoystickInstanceID.argtypes = [ctypes.c_void_p]
    sdl.SDL_JoystickGetDeviceInstanceID.argtypes = [ctypes.c_int]
    sdl.SDL_JoystickSetVirtualAxis.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int16]
    sdl.SDL_JoystickSetVirtualButton.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint8]
    sdl.SDL_GetError.restype = ctypes.c_char_p
    return sdl


class VirtualGamepad:
    """An Xbox-shaped virtual pad (6 axes, 11 buttons, 1 hat) with both triggers at rest (-1)."""

    def __init__(self, naxes: int = 6, nbuttons: int = 11, nhats: int = 1, triggers: tuple[int, ...] = (2, 5)) -> None:
        self.sdl = sdl_library()
        index = self.sdl.SDL_JoystickAttachVirtual(SDL_JOYSTICK_TYPE_GAMECONTROLLER, naxes, nbuttons, nhats)
        if index < 0:
            raise RuntimeError(f"SDL_JoystickAttachVirtual failed: {self.sdl.SDL_GetError().decode()}")
        self.handle = self.sdl.SDL_JoystickOpen(index)
        self.instance_id = self.sdl.SDL_JoystickInstanceID(self.handle)
        for axis in range(naxes):
            self.axis(axis, -1.0 if axis in triggers else 0.0)

    def axis(self, axis: int, value: float) -> None:
        """Set an axis, -1..1 (a stick: up/left is -1; a trigger: -1 released, 1 pulled)."""
        raw = -32768 if value <= -1.0 else min(32767, round(value * 32767))
        if self.sdl.SDL_JoystickSetVirtualAxis(self.handle, axis, raw) != 0:
            raise RuntimeError(f"SDL_JoystickSetVirtualAxis: {self.sdl.SDL_GetError().decode()}")

    def button(self, button: int, pressed: bool) -> None:
        if self.sdl.SDL_JoystickSetVirtualButton(self.handle, button, int(pressed)) != 0:
            raise RuntimeError(f"SDL_JoystickSetVirtualButton: {self.sdl.SDL_GetError().decode()}")

    def tap(self, button: int) -> None:
        """Press and release a button between two of the source's polls (both edges reach SDL's queue)."""
        pygame = import_pygame()
        self.button(button, True)
        pygame.event.pump()
        self.button(button, False)
        pygame.event.pump()

    def detach(self) -> None:
        """Unplug the pad (idempotent)."""
        if self.handle is None:
            return
        for i in range(self.sdl.SDL_NumJoysticks()):
            if self.sdl.SDL_JoystickGetDeviceInstanceID(i) == self.instance_id:
                self.sdl.SDL_JoystickDetachVirtual(i)
                break
        self.sdl.SDL_JoystickClose(self.handle)
        self.handle = None
