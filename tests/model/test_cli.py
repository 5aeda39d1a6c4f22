import json
import os

import pytest

from model import store
from model.artifact import load_artifact
from model.cli import build_parser, main
from model.datasets import DATASETS


def test_train_on_a_csv_then_evaluate_it(tmp_path, capsys):
    csv = tmp_path / "prices.csv"
    DATASETS["stock"].load().iloc[:500].to_csv(csv, index=False)
    code = main(["train", "--csv", str(csv), "--target", "close", "--time-column", "date", "--frequency", "B",
                 "--input-size", "20", "--horizon", "3", "--epochs", "2", "--hidden-size", "8",
                 "--store", str(tmp_path / "models"), "--name", "goog"])
    assert code == 0
    out = capsys.readouterr().out
    assert "saved goog v1" in out and "naive:" in out and "coverage:" in out
    assert store.versions(tmp_path / "models", "goog") == ["v1"]
    later = tmp_path / "later.csv"
    DATASETS["stock"].load().iloc[1500:1700].to_csv(later, index=False)
    assert main(["evaluate", "--name", "goog", "--store", str(tmp_path / "models"), "--csv", str(later),
                 "--time-column", "date"]) == 0
    assert "seasonal_naive:" in capsys.readouterr().out


def test_a_csv_with_covariates(tmp_path, capsys):
    csv = tmp_path / "weather.csv"
    DATASETS["weather"].load().iloc[:400].to_csv(csv, index=False)
    assert main(["train", "--csv", str(csv), "--target", "temp_max", "--covariates", "temp_min", "wind",
                 "--input-size", "14", "--horizon", "3", "--epochs", "1", "--hidden-size", "8",
                 "--store", str(tmp_path / "models"), "--name", "w"]) == 0
    assert load_artifact(tmp_path / "models" / "w" / "v1").config.covariates == ["temp_min", "wind"]


def test_bad_data_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    csv = tmp_path / "short.csv"
    csv.write_text("close\n1\n2\n3\n")
    code = main(["train", "--csv", str(csv), "--target", "close", "--input-size", "5", "--horizon", "2",
                 "--store", str(tmp_path)])
    assert code == 2
    assert "3 rows is too short: input_size 5 + horizon 2 needs at least 7" in capsys.readouterr().err


def test_train_on_a_bundled_dataset_with_the_seed_cell(tmp_path, capsys):
    assert main(["train", "--dataset", "weather", "--cell", "seed", "--epochs", "1", "--hidden-size", "8",
                 "--store", str(tmp_path)]) == 0
    assert "saved weather v1" in capsys.readouterr().out


def test_the_calendar_flag_and_its_refusal_without_timestamps(tmp_path, capsys):
    assert main(["train", "--dataset", "weather", "--calendar", "none", "--epochs", "1", "--hidden-size", "8",
                 "--store", str(tmp_path)]) == 0
    assert load_artifact(tmp_path / "weather" / "v1").config.calendar == "none"  # auto would take the year
    csv = tmp_path / "prices.csv"
    DATASETS["stock"].load().iloc[:500].to_csv(csv, index=False)
    code = main(["train", "--csv", str(csv), "--target", "close", "--calendar", "year", "--input-size", "20",
                 "--store", str(tmp_path)])  # no --time-column
    assert code == 2 and "calendar 'year' reads the time of year" in capsys.readouterr().err


def test_unknown_dataset_is_refused():
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "nope"])


@pytest.mark.parametrize("command", [["train", "--target", "close"], ["backtest", "--target", "close"],
                                     ["evaluate", "--name", "stock"]])
def test_a_missing_file_is_one_line_naming_it(command, tmp_path, capsys):
    store_args = [] if command[0] == "backtest" else ["--store", str(tmp_path)]
    if command[0] == "evaluate":
        assert main(["train", "--dataset", "stock", "--epochs", "1", "--hidden-size", "4", *store_args]) == 0
        capsys.readouterr()
    assert main([*command, "--csv", str(tmp_path / "nope.csv"), *store_args]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: no such file: {tmp_path / 'nope.csv'}"


def test_the_store_is_the_servers_unless_given_and_the_output_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRU_FORECAST_STORE", str(tmp_path / "served"))
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "GRU_FORECAST_STORE" in " ".join(help_text.split())
    assert main(["train", "--dataset", "weather", "--epochs", "1", "--hidden-size", "4"]) == 0
    assert f"saved weather v1 in {tmp_path / 'served'} (live;" in capsys.readouterr().out
    assert store.versions(tmp_path / "served", "weather") == ["v1"]
    assert main(["train", "--dataset", "weather", "--epochs", "1", "--hidden-size", "4"]) == 0
    assert "v2 in" in (out := capsys.readouterr().out) and "not live: v1 stays live" in out


def test_the_backtest_runs_the_statistical_baselines_of_the_bench_extra(tmp_path, capsys):
    """The code behind the headline accuracy tables (AutoETS, AutoARIMA) runs in CI (.ci/run sets CI and
    installs the bench extra); elsewhere it skips without statsforecast."""
    if not os.environ.get("CI"):
        pytest.importorskip("statsforecast", reason="the bench extra (statsforecast) is not installed")
    csv = tmp_path / "prices.csv"
    DATASETS["stock"].load().iloc[:600].to_csv(csv, index=False)
    assert main(["backtest", "--csv", str(csv), "--target", "close", "--time-column", "date", "--frequency", "B",
                 "--input-size", "20", "--horizon", "3", "--epochs", "2", "--hidden-size", "8", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"auto_ets", "auto_arima"} <= set(result["versus"]) and result["seconds"]["auto_arima"] > 0
    assert result["auto_ets"]["mase"] < 2 * result["naive"]["mase"]  # a real forecast, not zeros


def test_backtest_saves_the_model_it_scored_with_store(tmp_path, capsys):
    csv = tmp_path / "prices.csv"
    DATASETS["stock"].load().iloc[:600].to_csv(csv, index=False)
    assert main(["backtest", "--csv", str(csv), "--target", "close", "--time-column", "date", "--frequency", "B",
                 "--input-size", "20", "--horizon", "3", "--epochs", "2", "--hidden-size", "8", "--no-stats",
                 "--json", "--store", str(tmp_path / "models"), "--name", "goog"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # the saved line goes to stderr, so --json stays one document
    assert "saved goog v1 in" in captured.err
    artifact = load_artifact(tmp_path / "models" / "goog" / "v1")
    assert artifact.manifest.choice == result["choice"] and artifact.manifest.epochs_run == result["epochs_run"]
