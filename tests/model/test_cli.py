import pytest

from model import store
from model.artifact import load_artifact
from model.cli import main
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
