"""A writer killed during its first episode (the recorder's first minutes): the new dataset has no episode,
validates as such, and a resumed writer appends to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from agent.data import layout as L
from agent.data.reader import Dataset
from agent.data.validate import validate
from agent.data.writer import DatasetWriter
from tests.unit.data.helpers import write_episode

REPO = Path(__file__).resolve().parents[3]

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from agent.data.writer import DatasetWriter
    from tests.unit.data.helpers import SPEC, episode_arrays, image
    w = DatasetWriter(Path(sys.argv[1]), SPEC)
    w.start_episode("never saved")
    state, action = episode_arrays(0, 5)
    for t in range(5):
        w.add_frame(state[t], action[t], {"head": image(0, t, 0), "wrist": image(0, t, 1)}, t)
    print("MID", flush=True)
    time.sleep(60)
""")


def test_sigkill_in_the_first_episode_leaves_an_empty_valid_dataset(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "MID"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (root / L.STAGING).exists()
    assert validate(root) == {"episodes": 0, "frames": 0, "tasks": 0, "fps": 10}
    assert Dataset(root).episodes == []
    with DatasetWriter(root, resume=True) as w:
        write_episode(w, 0, 4)
    assert validate(root)["episodes"] == 1
