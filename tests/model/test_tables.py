"""model/tables.py: CSV or Parquet, known by the magic bytes or the name; the CLI reads both."""

import pytest

from model.artifact import load_artifact
from model.cli import _training_input, build_parser, main
from model.tables import is_parquet, read_table
from model.windows import DataError
from tests.panel_data import weather_panel

PANEL = weather_panel({"a": 12, "b": 9})


def test_csv_and_parquet_read_the_same_table(tmp_path):
    PANEL.to_csv(tmp_path / "panel.csv", index=False)
    PANEL.to_parquet(tmp_path / "panel.parquet", index=False)
    PANEL.to_parquet(tmp_path / "misnamed.csv", index=False)  # Parquet whatever its name says
    for name in ("panel.csv", "panel.parquet", "misnamed.csv"):
        frame = read_table(str(tmp_path / name))
        assert frame.astype(str).equals(PANEL.astype(str)), name


def test_is_parquet_by_magic_name_or_type():
    assert is_parquet(b"PAR1") and is_parquet(b"", "x.PARQUET") and is_parquet(b"", None, "application/x-parquet")
    assert not is_parquet(b"unique_id,ds,y", "panel.csv", "text/csv")


def test_a_malformed_parquet_file_is_a_data_error_naming_it(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=f"cannot read {bad}: malformed Parquet"):
        read_table(str(bad))


def test_the_cli_trains_a_parquet_panel_with_only_the_id_column(tmp_path):
    PANEL.to_parquet(tmp_path / "panel.parquet", index=False)
    args = build_parser().parse_args(["train", "--csv", str(tmp_path / "panel.parquet"), "--id-column", "unique_id",
                                      "--horizon", "2", "--input-size", "6"])
    frame, time_column, config, _, name = _training_input(args)
    assert config.targets == ["y"] and time_column == "ds" and config.id_column == "unique_id"
    assert name == "panel" and len(frame) == len(PANEL)
    with pytest.raises(DataError, match="--target"):
        _training_input(build_parser().parse_args(["train", "--csv", str(tmp_path / "panel.parquet")]))


def test_the_cli_saves_a_panel_model_with_its_resolved_names(tmp_path, capsys):
    weather_panel({"a": 60, "b": 40, "c": 5}).to_parquet(tmp_path / "temps.parquet", index=False)
    assert main(["train", "--csv", str(tmp_path / "temps.parquet"), "--id-column", "unique_id", "--frequency", "D",
                 "--input-size", "8", "--horizon", "3", "--epochs", "1", "--max-steps", "5", "--hidden-size", "4",
                 "--store", str(tmp_path / "models")]) == 0
    manifest = load_artifact(tmp_path / "models" / "temps" / "v1").manifest
    assert manifest.config["targets"] == ["y"] and manifest.config["id_column"] == "unique_id"
    assert manifest.panel["series"] == 2 and list(manifest.panel["short"]) == ["c"]
    out = capsys.readouterr().out
    assert "2 series trained on; 1 too short or unusable\n  c: 5 rows is too short" in out
