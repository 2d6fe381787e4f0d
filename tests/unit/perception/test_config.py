"""Model YAML files load; wrong keys or types fail naming the key, the file and the fields."""

from pathlib import Path

import pytest

from agent.perception.config import load_config

MODELS = Path(__file__).parents[3] / "configs" / "models"


@pytest.mark.parametrize("name", ["encoder_tiny", "encoder_small", "encoder_base"])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(MODELS / f"{name}.yaml")
    assert cfg.encoder.num_tokens > 0


def test_unknown_key_names_key_file_and_fields(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("encoder:\n  dimm: 64\n")
    with pytest.raises(ValueError) as err:
        load_config(path)
    msg = str(err.value)
    assert "encoder.dimm" in msg and str(path) in msg and "dim: int" in msg


def test_wrong_type_names_expected_type(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  steps: many\n")
    with pytest.raises(ValueError, match=r"train\.steps.*expected int"):
        load_config(path)


def test_bad_value_lists_allowed(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("encoder:\n  pos_embed: rope\n")
    with pytest.raises(ValueError, match="sincos"):
        load_config(path)


def test_unknown_section(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  lr: 1\n")
    with pytest.raises(ValueError, match=f"optim.*{path.name}|{path.name}.*optim"):
        load_config(path)


def test_yaml_float_strings_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("train:\n  lr: 1e-4\n")  # PyYAML reads 1e-4 as a string
    assert load_config(path).train.lr == 1e-4
