"""The options table of model/config.py and the three front ends built from it: the API schema, the CLI
flags and check_options."""

import argparse
from dataclasses import astuple, fields, replace

import pytest
from pydantic import ValidationError

from model.calendar import CALENDARS
from model.cli import build_parser, main
from model.config import ModelConfig, TrainConfig, check_options, options, split_options
from model.fit import STEP_WINDOW
from model.scaling import SCALINGS
from model.windows import DataError
from service.schemas import TrainOptions

API_EXTRAS = {"time_column", "promote"}  # a job's, not a config's


def _flags(command: str) -> dict[str, argparse.Action]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {flag: action for action in sub._actions for flag in action.option_strings}


def _outside(option) -> list[float]:
    """Values just past each end of an option's interval."""
    bounds, values = option.bounds, []
    step = 1 if option.kind is int else 1e-9
    if bounds.low is not None:
        values.append(bounds.low if bounds.low_open else bounds.low - step)
    if bounds.high is not None:
        values.append(bounds.high if bounds.high_open else bounds.high + step)
    return values


def _configs(name, value):
    config, train_config = ModelConfig(covariates=["x"]), TrainConfig()
    if name in ModelConfig.__dataclass_fields__:
        return replace(config, **{name: value}), train_config
    return config, replace(train_config, **{name: value})


def test_every_config_field_is_an_option_with_a_description_and_its_bounds_or_choices():
    table = options()
    assert list(table) == [f.name for cls in (ModelConfig, TrainConfig) for f in fields(cls)]
    for option in table.values():
        assert option.doc, option.name
        assert option.bounds or option.choices or option.kind is bool, option.name
        assert option.default == getattr(option.owner(), option.name), option.name
    assert table["scaling"].choices == ("auto", *SCALINGS) and table["calendar"].choices == CALENDARS
    assert str(STEP_WINDOW) in table["max_steps"].doc


def test_the_api_the_cli_and_the_table_offer_the_same_options():
    table, api, train_flags = options(), TrainOptions.model_fields, _flags("train")
    schema = TrainOptions.model_json_schema()["properties"]  # the OpenAPI document's
    assert set(api) - API_EXTRAS == {n for n, o in table.items() if o.offered == "all"}
    for name, option in table.items():
        flag = "--target" if name == "targets" else "--" + name.replace("_", "-")  # repeated, one per target
        assert (flag in train_flags) == (option.offered != "none"), name
        assert (flag in _flags("backtest")) == (flag in train_flags), name
        if flag in train_flags and option.choices:
            assert tuple(train_flags[flag].choices) == option.choices, name
        if name not in api:
            continue
        assert TrainOptions().model_dump()[name] == option.default, name
        assert api[name].description == option.doc, name
        if option.choices:
            assert set(schema[name]["enum"]) == set(option.choices), name
        limits = {type(m).__name__: astuple(m)[0] for m in api[name].metadata}
        if option.bounds and option.kind in (int, float):
            bounds = option.bounds
            assert limits == {"Gt" if bounds.low_open else "Ge": bounds.low,
                              "Lt" if bounds.high_open else "Le": bounds.high}, name
        elif option.bounds:
            assert limits.get("MaxLen") == option.bounds.high, name


@pytest.mark.parametrize("name", [n for n, o in options().items() if o.bounds and o.kind in (int, float)])
def test_a_value_past_a_bound_is_refused_by_each_front_end_and_the_bound_itself_is_not(name, tmp_path, capsys):
    option = options()[name]
    for value in _outside(option):
        with pytest.raises(DataError, match=name):
            check_options(*_configs(name, value))
        if option.offered == "all":
            with pytest.raises(ValidationError):
                TrainOptions(**{name: value})
        if option.offered != "none":
            flag = "--" + name.replace("_", "-")
            assert main(["train", "--dataset", "stock", f"{flag}={value}", "--store", str(tmp_path)]) == 2
            assert name in capsys.readouterr().err
    for value in (option.bounds.low, option.bounds.high):
        if value is not None and not (value == option.bounds.low and option.bounds.low_open) \
                and not (value == option.bounds.high and option.bounds.high_open):
            if name not in ("input_size", "horizon"):  # their low ends are refused with the pair's message
                check_options(*_configs(name, option.kind(value)))


def test_check_options_keeps_the_words_users_know():
    cases = [
        ("scaling", "minmax", "scaling 'minmax' is not one of ['auto', 'window', 'robust', 'standard']"),
        ("optimizer", "rmsprop", "optimizer 'rmsprop' is not one of ['adam', 'sgd']"),
        ("input_size", 1, "input_size must be >= 2 and horizon >= 1 (got 1, 1)"),
        ("test_fraction", 0.5, "val_fraction and test_fraction must each lie between 0 and 0.5, "
                               "calibration_fraction between 0 (calibrate on validation) and 0.5"),
        ("season_length", 0, "season_length must be >= 1 (got 0)"),
        ("targets", [], "targets must have a length >= 1 (got 0)"),
    ]
    for name, value, message in cases:
        with pytest.raises(DataError) as caught:
            check_options(*_configs(name, value))
        assert str(caught.value) == message
    with pytest.raises(DataError, match="a classifier needs covariates"):
        check_options(ModelConfig(task="classify"), TrainConfig())
    check_options(ModelConfig(), TrainConfig())


def test_split_options_reads_a_flat_dict_as_the_two_configs():
    config, train_config = split_options({"input_size": 20, "epochs": 3, "promote": True, "time_column": "date"})
    assert (config.input_size, train_config.epochs) == (20, 3)
    assert config == replace(ModelConfig(), input_size=20) and train_config == replace(TrainConfig(), epochs=3)
