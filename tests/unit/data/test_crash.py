"""Crash safety: a writer killed mid-episode or mid-commit leaves every earlier episode loadable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.data import layout as L
from agent.data.reader import Dataset
from agent.data.validate import DatasetError, validate
from agent.data.writer import DatasetWriter
from tests.unit.data.helpers import make_dataset, write_episode

REPO = Path(__file__).resolve().parents[3]

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from agent.data.writer import DatasetWriter
    from tests.unit.data.helpers import SPEC, episode_arrays, image, write_episode
    w = DatasetWriter(Path(sys.argv[1]), SPEC)
    for ep in range(3):
        write_episode(w, ep, 5 + ep)
    w.start_episode("never saved")
    state, action = episode_arrays(9, 50)
    for t in range(50):
        w.add_frame(state[t], action[t], {"head": image(9, t, 0), "wrist": image(9, t, 1)}, t)
    print("MID", flush=True)
    time.sleep(60)
""")


def test_sigkill_mid_episode(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "MID"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (root / L.STAGING).exists()  # the unfinished episode is there, but invisible
    assert validate(root)["episodes"] == 3
    assert [e["length"] for e in Dataset(root).episodes] == [5, 6, 7]
    with DatasetWriter(root, resume=True) as w:  # resume drops the leftovers and appends
        assert not (root / L.STAGING).exists()
        write_episode(w, 3, 4)
    assert validate(root)["episodes"] == 4


def test_crash_inside_commit_rolls_forward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_dataset(tmp_path / "ds", [5, 6])
    renames = 0
    real = os.replace

    def dying_replace(src: str | Path, dst: str | Path) -> None:
        nonlocal renames
        if str(dst).startswith(str(root / "data")) or str(dst).startswith(str(root / "meta")):
            renames += 1
            if renames == 2:
                raise KeyboardInterrupt  # the process dies between two renames of one commit
        real(src, dst)

    w = DatasetWriter(root, resume=True)
    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        write_episode(w, 2, 7)
    monkeypatch.setattr(os, "replace", real)
    with pytest.raises(DatasetError, match="interrupted commit"):
        validate(root)
    assert [e["length"] for e in Dataset(root).episodes] == [5, 6, 7]  # opening completes it
    validate(root)


def test_crash_before_commit_leaves_dataset_unchanged(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", [5])
    (root / "data/chunk-000/file-000.parquet.tmp").write_bytes(b"half written")
    with DatasetWriter(root, resume=True) as w:
        assert not list(root.glob("**/*.tmp"))
        write_episode(w, 1, 3)
    assert validate(root)["frames"] == 8
