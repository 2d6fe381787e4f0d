"""Where amibot's data lives: the repo's configs/, launch/ and models/, or their copy in an installed wheel.

A repo checkout and an editable install read the repo's own files (the ones to edit); a wheel carries a
copy under agent/_data, put there at build time by setup.py.
"""

from __future__ import annotations

from pathlib import Path

_BUNDLED = Path(__file__).resolve().parent / "_data"
DATA_ROOT = _BUNDLED if _BUNDLED.is_dir() else _BUNDLED.parent.parent  # wheel copy, else the repo root


def config_dir(kind: str) -> Path:
    """configs/<kind>/ (robots, scenes, tasks, ...) in amibot's data."""
    return DATA_ROOT / "configs" / kind


def resolve(path: str | Path) -> Path:
    """A path as given if it exists (absolute or from the working directory), else the same path in amibot's
    data if it is there (`configs/sim/default.yaml`, `models/encoder_tiny_sim.pt`), else as given."""
    given = Path(path).expanduser()
    if given.is_absolute() or given.exists():
        return given
    bundled = DATA_ROOT / given
    return bundled if bundled.exists() else given
