"""The manifest's `choice` and `validation`: every training decision, with its value and why, serialized here alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.calibrate import Calibration
from model.choice import Candidate, Choice
from model.config import ModelConfig
from model.race import RaceRecord


@dataclass(frozen=True)
class CalendarDecision:
    """Whether the time of year was tried and kept, and why."""

    value: str  # "year" or "none"
    reason: str
    scores: dict[str, float] = field(default_factory=dict)  # "none", "year" -> the best start's blocks score


@dataclass(frozen=True)
class ChoiceRecord:
    """What the served model is: the resolved options, each with how it was decided."""

    scaling: str
    base: str
    ridge_penalty: float | None  # None: no ridge (the bare base); JSON has no infinity
    combined: list[dict[str, Any]]
    members: int
    season_length: int | None
    season_source: str
    calendar: str
    lr: float | None
    max_steps: int
    why: dict[str, str]  # option -> "given", or how "auto" (or a rule) decided it

    def to_dict(self) -> dict[str, Any]:
        return {"scaling": self.scaling, "base": self.base, "ridge_penalty": self.ridge_penalty,
                "combined": self.combined, "members": self.members, "season_length": self.season_length,
                "season_source": self.season_source, "calendar": self.calendar, "lr": self.lr,
                "max_steps": self.max_steps, "why": self.why}


def _penalty(value: float) -> float | None:
    return value if np.isfinite(value) else None


def forecaster_choice(asked: ModelConfig, served: ModelConfig, chosen: Candidate, choice: Choice,
                      season_source: str, calendar: CalendarDecision, race: RaceRecord, lr: float,
                      max_steps: int) -> ChoiceRecord:
    """The choice section of a forecaster: asked is the caller's config, served the trained one's."""
    def how(option: str, auto: str) -> str:
        return "given" if getattr(asked, option) != "auto" else auto
    why = {
        "scaling": how("scaling", f"auto: the best start over the choice blocks, of {list(choice.scalings)}"),
        "base": how("base", f"auto: the best start over the choice blocks, of {list(choice.bases)}"),
        "ridge_penalty": ("no linear skip asked" if not asked.linear_skip else
                          "the chosen start's penalty" if chosen.linear else "the bare base was served"),
        "season_length": {"given": "given", "frequency": "from the frequency",
                          "detected": "detected on the training part"}[season_source],
        "calendar": calendar.reason,
        "members": f"race: {race.reason}; served {race.served}",
    }
    return ChoiceRecord(chosen.scaling, chosen.base, _penalty(chosen.penalty),
                        [{"base": b, "ridge_penalty": _penalty(p)} for b, p in chosen.parts], served.members,
                        served.season_length, season_source, served.calendar, lr, max_steps, why)


def classifier_choice(asked: ModelConfig, served: ModelConfig, calendar: CalendarDecision) -> ChoiceRecord:
    """A classifier's options are fixed by rule: standard scaling, no base, no race."""
    why = {"scaling": "a classifier: its covariates scaled by the training part's mean and deviation",
           "base": "a classifier has no base forecast", "calendar": calendar.reason,
           "season_length": "given" if asked.season_length is not None else "not used by a classifier"}
    return ChoiceRecord("standard", "naive", None, [], served.members, served.season_length,
                        "given" if asked.season_length is not None else "none", served.calendar, None, 0, why)


@dataclass(frozen=True)
class ValidationRecord:
    """How the choices scored on validation, the race, and the calibration of the intervals."""

    windows: int
    chosen: Candidate
    choice: Choice
    blocks: int
    calendar: CalendarDecision
    race: RaceRecord
    calibration: Calibration

    def to_dict(self) -> dict[str, Any]:
        c = self.calibration
        return {"windows": self.windows, "model": c.val_mase, "refit": c.refit,
                "interval_exponent": c.interval_exponent, "interval_lag": c.interval_lag,
                "interval_widening": c.interval_widening, "intervals": c.bands.to_dict(),
                "initial": self.chosen.val_mase, "initial_blocks": self.chosen.score, "choice_blocks": self.blocks,
                "calendar": self.calendar.scores, "race": self.race.to_dict(), "candidates": self.choice.scores}
