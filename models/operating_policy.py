"""The operating policy: the unit lead's file that sets how much work each tier may hold.

Tier is a workload band, not a finding (``contract.md`` §4). The unit lead decides how many
arrivals a day the unit can treat as "act within hours" (``immediate``) and "act within days"
(``high``), who is on duty when, and how soon each tier should be first looked at; the model
only fits the thresholds that hold those shares on the calibration window. The policy is a
TOML file under version control (``policy_version`` names it); a copy travels inside every
model artefact and is logged to MLflow, and every Score says which version set its tier.

Shares are of *all arrivals*: ``immediate_share`` is what the model may add on top of the
safety floor (the floor always lifts, whatever the cap), ``high_share`` likewise for
``high`` (counting neither the floor nor the referrals already in ``immediate``).
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, model_validator

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_POLICY_FILE = Path(__file__).with_name("operating_policy.toml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shift(_Strict):
    """Reviewers on duty on ``days`` from ``start_hour`` (inclusive) to ``end_hour``
    (exclusive, 24 = midnight), local time of the centre. Shifts may overlap; they add."""

    days: list[Day] = Field(min_length=1)
    start_hour: int = Field(ge=0, le=23)
    end_hour: int = Field(ge=1, le=24)
    reviewers: int = Field(ge=0, le=500)

    @model_validator(mode="after")
    def _ordered(self) -> Shift:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour: must be after start_hour (split a night shift in two)")
        return self


class TierTargets(_Strict):
    """Hours from arrival to first review that the unit aims for, per tier."""

    immediate: float = Field(default=4.0, gt=0, le=24 * 365)
    high: float = Field(default=72.0, gt=0, le=24 * 365)
    routine: float = Field(default=336.0, gt=0, le=24 * 365)


class OperatingPolicy(_Strict):
    version: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    owner: str = Field(default="unit lead", max_length=128)
    immediate_share: float = Field(default=0.03, ge=0.0, le=0.5)
    high_share: float = Field(default=0.12, ge=0.0, le=0.8)
    targets_hours: TierTargets = TierTargets()
    review_minutes: float = Field(default=20.0, gt=0, le=24 * 60)
    staffing: list[Shift] = Field(min_length=1)

    @model_validator(mode="after")
    def _shares(self) -> OperatingPolicy:
        if self.immediate_share + self.high_share > 0.95:
            raise ValueError("high_share: immediate_share + high_share must stay below 0.95")
        return self

    def reviewers_on_duty(self, day: int, hour: int) -> int:
        """Reviewers on duty on weekday ``day`` (0 = Monday) during ``hour`` (0-23)."""
        name = DAYS[day]
        return sum(
            s.reviewers
            for s in self.staffing
            if name in s.days and s.start_hour <= hour < s.end_hour
        )

    def reviewer_hours_per_week(self) -> int:
        return sum(self.reviewers_on_duty(d, h) for d in range(7) for h in range(24))

    def to_toml(self) -> str:
        return tomli_w.dumps(self.model_dump(mode="json"))

    def digest(self) -> str:
        """sha256 of the canonical TOML: two files with the same content have one digest."""
        return hashlib.sha256(self.to_toml().encode()).hexdigest()


class PolicyFileError(ValueError):
    """A policy file that cannot be read or does not validate; the message names the field."""


def load_policy(path: Path | None = None) -> OperatingPolicy:
    p = path or DEFAULT_POLICY_FILE
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise PolicyFileError(f"{p.name}: cannot read ({type(e).__name__})") from None
    try:
        return OperatingPolicy.model_validate(data)
    except ValueError as e:
        errs: list[Any] = getattr(e, "errors", lambda: [])()
        where = "; ".join(
            f"{'.'.join(str(x) for x in err['loc']) or 'policy'}: {err['msg']}" for err in errs
        )
        raise PolicyFileError(f"{p.name}: {where or e}") from None


def save_policy(policy: OperatingPolicy, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(policy.to_toml(), encoding="utf-8")
