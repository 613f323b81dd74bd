"""``late: {rule: window, penalty: [...], cutoff: 72h}``: a late hand-in counts, less a penalty
that grows with lateness in steps, until a hard cut-off after which it is a miss.

Each step takes ``percent`` of the points earned off a hand-in more than ``after`` late; the
last step it is more than ``after`` late applies (none: counted whole, marked late). A hand-in
more than ``cutoff`` late counts as missed."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from ..calendar import span_text
from .base import LateDecision, LateRule

__all__ = ["Duration", "PenaltyStep", "Window", "WindowSettings", "duration_text",
           "parse_duration"]

_DURATION = re.compile(r"(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?")


def parse_duration(value: object) -> dt.timedelta:
    """``30m``, ``5h``, ``3d``, ``1d 12h`` as a length of time; else ``ValueError``."""
    if isinstance(value, dt.timedelta):
        return value
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise ValueError("should be a length of time such as 30m, 24h, 3d or 1d 12h")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


def duration_text(value: dt.timedelta) -> str:
    """A length of time as the course file writes it: ``72h``, ``90m``, ``0h``."""
    minutes = int(value.total_seconds()) // 60
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration),
                     PlainSerializer(duration_text, return_type=str, when_used="json")]


class PenaltyStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Duration = Field(description="the step applies to a hand-in more than this late")
    percent: float = Field(ge=0, le=100, description="of the points earned, taken off")


class WindowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rule: Literal["window"] = "window"
    penalty: list[PenaltyStep] = Field(min_length=1, description="the steps, by lateness")
    cutoff: Duration = Field(description="later than this is a miss")

    @field_validator("penalty")
    @classmethod
    def _in_order(cls, steps: list[PenaltyStep]) -> list[PenaltyStep]:
        for before, step in itertools.pairwise(steps):
            if step.after <= before.after:
                raise ValueError("list the steps by 'after', each later than the one above "
                                 f"({duration_text(step.after)} follows "
                                 f"{duration_text(before.after)})")
        return steps

    @model_validator(mode="after")
    def _cut_off_after_the_steps(self) -> WindowSettings:
        if self.cutoff <= self.penalty[-1].after:
            raise ValueError(f"the cut-off ({duration_text(self.cutoff)}) must come after the "
                             f"last step ({duration_text(self.penalty[-1].after)})")
        return self


def _percent(value: float) -> str:
    return f"{value:g} %"


class Window(LateRule):
    name = "window"
    description = ("a late hand-in counts, less a penalty growing with lateness; after the "
                   "cut-off, a miss")
    settings_model = WindowSettings
    settings: WindowSettings

    def __init__(self, settings: WindowSettings | None = None):
        super().__init__(settings if settings is not None else WindowSettings(
            penalty=[PenaltyStep(after=dt.timedelta(), percent=0)], cutoff=dt.timedelta(days=7)))

    def decide(self, late_by: dt.timedelta) -> LateDecision:
        late = f"late by {span_text(late_by)}"
        cutoff = self.settings.cutoff
        if late_by > cutoff:
            return LateDecision(True, reason=f"{late}, past the cut-off of "
                                f"{duration_text(cutoff)}: counts as missed")
        steps = [step for step in self.settings.penalty if late_by > step.after]
        percent = steps[-1].percent if steps else 0.0
        return LateDecision(False, percent, f"{late}: -{_percent(percent)}")

    def counts_as_miss(self, late_by: dt.timedelta) -> bool:
        return self.decide(late_by).miss

    def notice_for(self, decision: LateDecision) -> str:
        if decision.miss:
            return (f"more than {duration_text(self.settings.cutoff)} late (this course's cut-off) "
                    "counts as missed")
        return (f"within this course's late window: {_percent(decision.penalty_percent)} of the "
                f"points it earns are taken off (cut-off {duration_text(self.settings.cutoff)} "
                "after the deadline)")
