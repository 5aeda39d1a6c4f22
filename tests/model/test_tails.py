"""A panel model's series tails (model/tails.py): built from a panel, saved with the version, read on demand."""

import shutil

import pandas as pd
import pytest

from model import store
from model.artifact import load_artifact, save_artifact
from model.panel import read_panel
from model.tails import TAILS, Tails, tails_frame
from tests.model.helpers import hand_built_panel, monthly_weather


def test_tails_are_the_last_input_size_rows_of_every_usable_series():
    frame = monthly_weather(months=3)
    # a series too short to use is left out of the tails as it is out of training
    frame = pd.concat([frame, pd.DataFrame({"month": ["tiny"], "date": ["2016-01-01"], "temp_max": [3.0]})])
    config = hand_built_panel(frame).config
    panel = read_panel(frame, config, "date")
    tails = tails_frame(panel, config, "date")
    assert list(tails.columns) == ["month", "date", "temp_max"] and "tiny" in panel.short
    assert tails["month"].unique().tolist() == ["2012-01", "2012-02", "2012-03"]
    february = tails[tails["month"] == "2012-02"]
    raw = frame[frame["month"] == "2012-02"].tail(config.input_size)
    assert len(february) == config.input_size == 14
    assert february["date"].dt.strftime("%Y-%m-%d").tolist() == raw["date"].tolist()
    assert february["temp_max"].tolist() == pytest.approx(raw["temp_max"].tolist(), abs=1e-5)
    assert tails_frame(panel, config, None).columns.tolist() == ["month", "temp_max"]


def test_a_series_shorter_than_input_size_keeps_all_its_rows():
    frame = monthly_weather(months=2)
    short = frame[frame["month"] == "2012-01"].head(5)
    frame = pd.concat([short, frame[frame["month"] == "2012-02"]])
    artifact = hand_built_panel(frame)
    assert artifact.tails["month"].value_counts().to_dict() == {"2012-01": 5, "2012-02": 14}


def test_tails_round_trip_with_the_version_and_load_on_demand(tmp_path):
    artifact = hand_built_panel()
    save_artifact(artifact, tmp_path / "v1")
    assert sorted(p.name for p in (tmp_path / "v1").iterdir()) == ["manifest.json", TAILS, "weights.safetensors"]
    loaded = load_artifact(tmp_path / "v1")
    assert loaded.tails is None  # not read at load time
    tails = loaded.series_tails()
    assert tails is not None and tails.path == tmp_path / "v1" / TAILS
    assert tails.ids() == sorted(artifact.tails["month"].unique()) and len(tails.ids()) == 48
    one = tails.series("2013-02")
    expected = artifact.tails[artifact.tails["month"] == "2013-02"].reset_index(drop=True)
    pd.testing.assert_frame_equal(one, expected)
    assert tails.series("1999-01").empty
    assert loaded.manifest.panel["series"] == 48 and loaded.manifest.panel["id_column"] == "month"

    # a loaded version saved again (a copy) keeps its tails
    save_artifact(loaded, tmp_path / "v2")
    again = load_artifact(tmp_path / "v2").series_tails()
    pd.testing.assert_frame_equal(again.series("2015-12"), tails.series("2015-12"))


def test_a_version_saved_without_tails_and_a_one_series_model_load_fine(stock_artifact, tmp_path):
    artifact = hand_built_panel()
    artifact.tails = None  # a panel version from before tails were kept
    save_artifact(artifact, tmp_path / "old")
    old = load_artifact(tmp_path / "old")
    assert not (tmp_path / "old" / TAILS).exists() and old.series_tails() is None
    save_artifact(stock_artifact, tmp_path / "stock")
    assert load_artifact(tmp_path / "stock").series_tails() is None


def test_a_failed_tails_write_leaves_no_version(tmp_path):
    artifact = hand_built_panel()
    artifact.tails = artifact.tails.drop(columns=["temp_max"])  # unusable: refused before the rename
    with pytest.raises(ValueError, match="missing"):
        store.save_version(tmp_path, "months", artifact)
    assert not (tmp_path / "months").exists() and not list(tmp_path.glob("**/.tmp-*"))


def test_ids_page_by_prefix_and_cursor(tmp_path):
    artifact = hand_built_panel()
    version = store.save_version(tmp_path, "months", artifact)
    shutil.copy(tmp_path / "months" / version / TAILS, tmp_path / "copy.parquet")
    for tails in (Tails(artifact.config, frame=artifact.tails), Tails(artifact.config, path=tmp_path / "copy.parquet")):
        ids, total, cursor = tails.page("2013-", limit=5)
        assert ids == ["2013-01", "2013-02", "2013-03", "2013-04", "2013-05"] and total == 12 and cursor == "2013-05"
        ids, total, cursor = tails.page("2013-", after=cursor, limit=5)
        assert ids[0] == "2013-06" and cursor == "2013-10"
        ids, total, cursor = tails.page("2013-", after=cursor, limit=5)
        assert ids == ["2013-11", "2013-12"] and cursor is None
        assert tails.page("2013-", limit=12)[2] is None  # exactly the last page: no next
        assert tails.page("nope") == ([], 0, None)
        assert tails.page(limit=1000)[1] == 48


def test_the_file_is_sorted_by_id_with_each_series_rows_in_order():
    from model.tails import id_order

    ids = pd.Series(["b", "b", "a", "c", "c", "c", "a2"]).to_numpy(dtype=object)
    assert id_order(ids).tolist() == [2, 6, 0, 1, 3, 4, 5]
    mixed = pd.Series(["b", "a", "b", "a"]).to_numpy(dtype=object)  # a series' rows apart: a full stable sort
    assert id_order(mixed).tolist() == [1, 3, 0, 2]
    assert id_order(ids[:0]).tolist() == []
