"""agent/resources.py: a checkout reads the repo's own configs; relative paths try the working directory first."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.resources import DATA_ROOT, config_dir, resolve

REPO = Path(__file__).resolve().parents[2]
ROBOT = "configs/robots/mobile_so101.yaml"


def test_a_checkout_reads_the_repo_files_people_edit() -> None:
    assert DATA_ROOT == REPO
    assert config_dir("robots") == REPO / "configs" / "robots"


def test_resolve_tries_the_working_directory_then_amibot_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve(ROBOT) == DATA_ROOT / ROBOT
    (tmp_path / ROBOT).parent.mkdir(parents=True)
    (tmp_path / ROBOT).write_text("name: mine\n")
    assert resolve(ROBOT) == Path(ROBOT)  # the user's own file, from where they run
    assert resolve("configs/robots/nope.yaml") == Path("configs/robots/nope.yaml")  # errors name it as given
    assert resolve(tmp_path / "x.yaml") == tmp_path / "x.yaml"
