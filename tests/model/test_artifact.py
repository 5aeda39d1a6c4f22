import copy
import json
import pickle

import numpy as np
import pytest

from model import store
from model.artifact import ArtifactError, load_artifact, save_artifact


def test_round_trip_gives_the_same_forecasts(stock_artifact, tmp_path):
    save_artifact(stock_artifact, tmp_path / "v1")
    loaded = load_artifact(tmp_path / "v1")
    window = np.linspace(500, 520, 30, dtype=np.float32)[None, :, None]
    a = stock_artifact.predictor.predict(window, (80,))
    b = loaded.predictor.predict(window, (80,))
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6)
    np.testing.assert_allclose(a.intervals[80][0], b.intervals[80][0], rtol=1e-6)
    manifest = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    for key in ("format_version", "task", "config", "input_size", "horizon", "targets", "covariates", "frequency",
                "scaler", "interval_quantiles", "metrics", "data_fingerprint", "created", "library_versions"):
        assert key in manifest


def test_tampered_truncated_pickled_and_unknown_format_are_clear_errors(stock_artifact, tmp_path):
    save_artifact(stock_artifact, tmp_path / "v1")
    weights = tmp_path / "v1" / "weights.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 2])
    with pytest.raises(ArtifactError, match="does not match the checksum"):
        load_artifact(tmp_path / "v1")

    # A pickle planted as the weights, with the checksum forged to match: still refused, never unpickled.
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle ran')",))

    planted = pickle.dumps({"w": Boom()})
    weights.write_bytes(planted)
    manifest = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    import hashlib

    manifest["weights_sha256"] = hashlib.sha256(planted).hexdigest()
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="cannot rebuild"):
        load_artifact(tmp_path / "v1")

    manifest["format_version"] = 99
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="unknown format version 99"):
        load_artifact(tmp_path / "v1")


def test_a_failed_save_leaves_no_version(stock_artifact, tmp_path, monkeypatch):
    import model.artifact as artifact_module

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(artifact_module.json, "dump", full_disk)
    with pytest.raises(OSError):
        store.save_version(tmp_path, "stock", stock_artifact)
    assert store.versions(tmp_path, "stock") == []
    assert not (tmp_path / "stock").exists()  # nor an empty model folder


def test_store_versions_live_and_names(stock_artifact, tmp_path):
    assert store.save_version(tmp_path, "m", stock_artifact) == "v1"
    assert store.save_version(tmp_path, "m", stock_artifact) == "v2"
    assert store.live_version(tmp_path, "m") == "v1"  # the first version is live; later ones when promoted
    assert (tmp_path / "m" / "LIVE").read_text().strip() == "v1"  # written with the first version
    store.set_live(tmp_path, "m", "v2")
    assert store.live_version(tmp_path, "m") == "v2"
    with pytest.raises(ValueError, match="is live"):
        store.delete_version(tmp_path, "m", "v2")
    store.delete_version(tmp_path, "m", "v1")
    assert store.versions(tmp_path, "m") == ["v2"]
    with pytest.raises(ValueError, match="invalid model name"):
        store.versions(tmp_path, "../etc")


def test_the_manifest_is_one_typed_class_and_round_trips(stock_artifact, tmp_path):
    from model.artifact import Manifest, load_artifact

    save_artifact(stock_artifact, tmp_path / "v1")
    loaded = load_artifact(tmp_path / "v1")
    assert isinstance(loaded.manifest, Manifest) and loaded.manifest.weights_sha256
    assert loaded.manifest.metrics == stock_artifact.manifest.metrics
    assert loaded.manifest.choice == stock_artifact.manifest.choice
    on_disk = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    assert Manifest.from_dict({**on_disk, "from_a_newer_build": 1}).to_dict() == on_disk  # extra keys ignored


def test_a_first_landing_manifest_still_loads(stock_artifact, tmp_path):
    """Format 1 had no scaling/base/linear_skip in its config: window scaling and a naive base."""
    from model.artifact import load_artifact
    from model.config import ModelConfig
    from model.network import GRUNet

    config = ModelConfig(targets=["close"], input_size=30, horizon=5, scaling="window", base="naive",
                         linear_skip=False, hidden_size=stock_artifact.config.hidden_size)
    old = copy.deepcopy(stock_artifact)
    old.predictor.net = GRUNet(config)
    old.predictor.config = config
    save_artifact(old, tmp_path / "v1")
    manifest = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    for key in ("scaling", "base", "linear_skip"):
        del manifest["config"][key]
    manifest["format_version"] = 1
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_artifact(tmp_path / "v1")
    assert (loaded.config.scaling, loaded.config.base, loaded.config.linear_skip) == ("window", "naive", False)


def test_a_version_saved_before_the_interval_floor_keeps_its_bands(stock_artifact, tmp_path):
    """No interval_floor in the manifest: the scaler's lag-1 floor, as those versions were calibrated."""
    save_artifact(stock_artifact, tmp_path / "v1")
    manifest = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    assert stock_artifact.predictor.floor is not None
    assert manifest["interval_floor"] == stock_artifact.predictor.floor
    del manifest["interval_floor"]
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_artifact(tmp_path / "v1").predictor
    assert loaded.floor is None
    flat = np.full((2, 30, 1), 500.0, np.float32)  # every step 0: the floor is the width
    assert loaded.interval_unit(flat)[0, 0] == pytest.approx(loaded.scaler["floor"][0] ** loaded.exponent, rel=1e-5)
    manifest["interval_floor"] = ["wide"]
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="cannot rebuild"):
        load_artifact(tmp_path / "v1")


def test_a_version_saved_before_the_interval_lag_keeps_the_bases_lag(stock_artifact, tmp_path):
    """No interval_lag in the manifest: the widths follow the base's lag, as those versions were calibrated."""
    save_artifact(stock_artifact, tmp_path / "v1")
    manifest = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    assert manifest["interval_lag"] == stock_artifact.predictor.interval_lag in (1, 5)
    manifest["interval_lag"] = 5  # the season: a week of trading days
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps(manifest))
    weekly = load_artifact(tmp_path / "v1").predictor
    del manifest["interval_lag"]
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps(manifest))
    older = load_artifact(tmp_path / "v1").predictor
    assert older.interval_lag is None
    # Rising by 1 a day, with a jump of 10 between the 10th and 11th day: lag 1 sees one jump in 29
    # steps, lag 5 one in every 25 steps that span it (5 of them).
    window = (np.arange(30) + 10.0 * (np.arange(30) >= 10)).astype(np.float32)[None, :, None]
    steps = {lag: max(np.abs(window[0, lag:, 0] - window[0, :-lag, 0]).mean(), floor)
             for lag, floor in ((1, stock_artifact.predictor.floor[0]), (5, stock_artifact.predictor.floor[0]))}
    exponent = older.exponent
    assert older.interval_unit(window)[0, 0] == pytest.approx(steps[1] ** exponent, rel=1e-5)
    assert weekly.interval_unit(window)[0, 0] == pytest.approx(steps[5] ** exponent, rel=1e-5)
    for bad in (0, "5", 2.5, True):
        manifest["interval_lag"] = bad
        (tmp_path / "v1" / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ArtifactError, match="interval_lag"):
            load_artifact(tmp_path / "v1")


def test_the_guard_spread_round_trips_and_an_older_version_loads_without_a_guard(stock_artifact, tmp_path):
    from model.artifact import load_artifact

    save_artifact(stock_artifact, tmp_path / "v1")
    assert load_artifact(tmp_path / "v1").predictor.spread == pytest.approx(stock_artifact.predictor.spread)
    manifest = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    del manifest["training_spread"]
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_artifact(tmp_path / "v1").predictor
    zigzag = np.where(np.arange(30) % 2, 1e6, -1e6).astype(np.float32).reshape(1, 30, 1)  # scaled, wider than any
    assert stock_artifact.predictor.outside(zigzag).all()
    assert loaded.spread is None and not loaded.outside(zigzag).any()
