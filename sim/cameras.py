"""Link-mounted pinhole cameras rendered headless: pybullet's TinyRenderer (CPU) or EGL (OpenGL
without a display: the GPU's driver, or Mesa's llvmpipe on a CPU-only machine)."""

from __future__ import annotations

import logging
import pkgutil

import numpy as np

from agent.pybullet_quiet import pybullet as p
from agent.robot.config import CameraSpec

log = logging.getLogger("amibot.sim.cameras")
RENDERERS = ("tiny", "egl", "auto")  # auto: EGL where it loads, else tiny


def setup_renderer(client: int, name: str) -> int:
    """The getCameraImage renderer for `name` in this client; loads pybullet's EGL plugin for 'egl'
    (RuntimeError if it cannot) and 'auto' (falls back to TinyRenderer with a warning)."""
    if name not in RENDERERS:
        raise ValueError(f"renderer {name!r}: expected one of {RENDERERS}")
    if name == "tiny":
        return p.ER_TINY_RENDERER
    loader = pkgutil.get_loader("eglRenderer")
    plugin = p.loadPlugin(loader.get_filename(), "_eglRendererPlugin", physicsClientId=client) if loader else -1
    if plugin >= 0:
        return p.ER_BULLET_HARDWARE_OPENGL
    why = "pybullet has no eglRenderer module" if loader is None else "the EGL plugin did not load (no libEGL?)"
    if name == "egl":
        raise RuntimeError(f"renderer 'egl': {why}; use renderer 'tiny' or 'auto'")
    log.warning("renderer 'auto': %s; rendering with TinyRenderer", why)
    return p.ER_TINY_RENDERER


def look_matrices(
    pos: np.ndarray, orn: np.ndarray, spec: CameraSpec, size: tuple[int, int]
) -> tuple[list[float], list[float]]:
    """View and projection matrices for a camera on a link at world pose (pos, orn)."""
    rot = np.array(p.getMatrixFromQuaternion(orn)).reshape(3, 3)
    eye = pos + rot @ np.asarray(spec.xyz)
    forward, up = rot @ np.asarray(spec.forward), rot @ np.asarray(spec.up)
    view = p.computeViewMatrix(eye.tolist(), (eye + forward).tolist(), up.tolist())
    h, w = size
    proj = p.computeProjectionMatrixFOV(spec.fov, w / h, spec.near, spec.far)
    return view, proj


def render(
    client: int,
    view: list[float],
    proj: list[float],
    size: tuple[int, int],
    light: dict,
    near: float,
    far: float,
    depth: bool = False,
    renderer: int = p.ER_TINY_RENDERER,
) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB (H, W, 3) uint8 and optional metric depth (H, W) float32 (renderer: from setup_renderer)."""
    h, w = size
    flags = p.ER_NO_SEGMENTATION_MASK
    _, _, rgba, zbuf, _ = p.getCameraImage(
        w,
        h,
        view,
        proj,
        renderer=renderer,
        flags=flags,
        lightDirection=light.get("direction", [0.3, 0.3, 1.0]),
        lightColor=light.get("color", [1.0, 1.0, 1.0]),
        lightAmbientCoeff=light.get("ambient", 0.6),
        lightDiffuseCoeff=light.get("diffuse", 0.5),
        lightSpecularCoeff=0.1,
        shadow=0,
        physicsClientId=client,
    )
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(h, w, 4)[:, :, :3].copy()
    if not depth:
        return rgb, None
    z = np.asarray(zbuf, dtype=np.float32).reshape(h, w)
    return rgb, (far * near / (far - (far - near) * z)).astype(np.float32)
