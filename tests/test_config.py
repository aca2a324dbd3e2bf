from pathlib import Path

import pytest

from pipeline.config import Config, load_config
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_default_config_validates():
    cfg = load_config()
    assert isinstance(cfg, Config)
    assert cfg.mosaicking.crs == "farside_eqc"


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml") if p.name != "grids.yaml"))
def test_shipped_configs_validate(name):
    load_config(ROOT / "configs" / name)


def test_unknown_key_is_an_error_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mosaic:\n  tile_sise: 256\n")
    with pytest.raises(ConfigError, match="tile_sise"):
        load_config(bad)


def test_invalid_value_is_an_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mosaic:\n  tile_size: -3\n")
    with pytest.raises(ConfigError, match="tile_size"):
        load_config(bad)


def test_not_yaml_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_overrides_win(tmp_path):
    cfg = load_config(None, {"mosaicking": {"crs": "farside_ortho"}, "run": {"scheduler": "synchronous"}})
    assert cfg.mosaicking.crs == "farside_ortho" and cfg.run.scheduler == "synchronous"


def test_every_key_has_a_description_and_a_row_on_the_configuration_page():
    from pipeline.config import Config, _walk

    page = (ROOT / "docs" / "configuration.md").read_text()
    for key, info, nested in _walk(Config):
        if nested is None:
            assert info.description, f"config key {key} has no description"
            assert f"`{key}`" in page, f"config key {key} missing from docs/configuration.md"
