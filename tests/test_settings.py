"""`--set key=value` overrides: nested keys, YAML-typed values, validated like the file, one clear line per problem."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from trl import GRPOConfig
from typer.testing import CliRunner

from toolscale.cli import app
from toolscale.settings import SettingsError
from toolscale.train.config import TOOLSCALE_ONLY, DataConfig, GRPOSettings, TrainConfig, load_config
from toolscale.train.trainer import grpo_arguments


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"data": {"source": "tasks.jsonl"}, "output_dir": "out", "grpo": {"max_steps": 40}}))
    return path


def test_nested_overrides_replace_and_add_typed_values(config_file: Path) -> None:
    config = load_config(config_file, ["grpo.max_steps=3", "data.domains=[bank, weather]", "reward.preference.accuracy=1"])
    assert config.grpo.max_steps == 3
    assert config.data.domains == ["bank", "weather"]
    assert config.reward.preference == {"accuracy": 1.0}
    assert config.grpo.num_generations == 8  # untouched keys keep the file's or the default value


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("grpo.max_steps=0", "(with --set grpo.max_steps=0): grpo.max_steps: Input should be greater than or equal to 1"),
        ("grpo.max_stepz=3", "grpo.max_stepz: Extra inputs are not permitted"),
        ("grpo.max_steps", "--set 'grpo.max_steps': expected key=value"),
        ("data.source.path=x", "--set data.source.path: data.source is a str, not a mapping"),
    ],
)
def test_a_bad_override_names_the_file_the_field_and_the_reason(config_file: Path, override: str, expected: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_config(config_file, [override])
    assert str(raised.value).startswith(f"{config_file}")
    assert expected in str(raised.value)


def test_train_refuses_a_bad_override_in_one_line_without_a_traceback(config_file: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(config_file), "--set", "grpo.num_generations=3"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "multiple of num_generations" in result.output
    assert "Traceback" not in result.output


def test_grpo_section_speaks_trl() -> None:
    """A TRL user reads `grpo:` without a translation table: every field but ours is GRPOConfig's, same name,
    and reaches it with the value the config gave."""
    trl_fields = {field.name for field in dataclasses.fields(GRPOConfig)}
    assert set(GRPOSettings.model_fields) - TOOLSCALE_ONLY <= trl_fields
    settings = GRPOSettings(num_generations=4, per_device_train_batch_size=4, beta=0.5, epsilon_high=0.3, save_steps=7)
    config = TrainConfig(data=DataConfig(source="unused"), output_dir=Path("unused"), grpo=settings, use_cpu=True)
    arguments = grpo_arguments(config)
    for name in set(GRPOSettings.model_fields) - TOOLSCALE_ONLY:
        assert getattr(arguments, name) == getattr(settings, name), name
