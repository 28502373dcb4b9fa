"""Evaluation results: one :class:`SectionResult` per table cell group, JSON round trip."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from harc.errors import HarcError

Section = Literal["harmfulness", "over_refusal", "capability"]
SECTIONS: tuple[Section, ...] = ("harmfulness", "over_refusal", "capability")


@dataclass
class SectionResult:
    """One attack's ASR or one benchmark's primary metric, with its samples.

    ``judge`` names what decided every sample (e.g. ``keyword``); ``scale`` is the metric's
    maximum (1 for rates, 10 for MT-Bench), used to put means on [0, 1]. Each sample is a
    dict with at least ``prompt``, ``output``, ``verdict`` and ``judge``. Harmfulness
    sections judged by several judges keep each judge's rate in ``judges`` (name -> measures,
    metric, value, n, ci_low, ci_high, undecided; the first is ``judge``, whose rate is
    ``value``) and each judge's verdict per sample in ``sample["verdicts"][name]``.
    """

    section: Section
    name: str
    label: str
    metric: str
    value: float
    n: int
    ci_low: float
    ci_high: float
    judge: str
    source: str
    samples: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    higher_is_better: bool = False
    scale: float = 1.0
    judges: dict[str, dict[str, Any]] = field(default_factory=dict)

    def judge_metrics(self) -> dict[str, dict[str, Any]]:
        """Each judge's rate (see the class doc); a single-judge section written before
        ``judges`` existed gives its own judge, with what that judge measures by name."""
        if self.judges or self.section != "harmfulness":
            return dict(self.judges)
        from harc.evaluation.judging import METRICS
        from harc.judges.measured import measures_for_name

        measures = measures_for_name(self.judge)
        return {self.judge: {"measures": measures, "metric": METRICS[measures],
                             "value": self.value, "n": self.n, "ci_low": self.ci_low,
                             "ci_high": self.ci_high,
                             "undecided": self.config.get("undecided", 0)}}

    @property
    def key(self) -> str:
        return f"{self.section}/{self.name}"

    @property
    def normalized(self) -> float:
        return self.value / self.scale

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SectionResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class EvaluationResult:
    method: str
    model: str
    model_key: str
    adapter: str | None
    suite: str
    harm_judge: str
    data_root: str | None
    goal_source: str | None = None
    sections: list[SectionResult] = field(default_factory=list)
    decontamination: dict[str, Any] | None = None
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)
    harm_judges: list[str] = field(default_factory=list)

    @property
    def judge_names(self) -> list[str]:
        """Every harm judge's recorded name, the primary (``harm_judge``) first."""
        return list(self.harm_judges) or [self.harm_judge]

    def judge_measures(self, judge: str) -> str | None:
        """What ``judge`` measured here (``compliance`` or ``harm``), None if it judged nothing."""
        for item in self.section("harmfulness"):
            entry = item.judge_metrics().get(judge)
            if entry is not None:
                return str(entry["measures"])
        return None

    def judge_mean(self, judge: str) -> float:
        """Mean over attacks of ``judge``'s rate (NaN when it has none)."""
        values = [entry["value"] for item in self.section("harmfulness")
                  if (entry := item.judge_metrics().get(judge)) is not None
                  and not math.isnan(entry["value"])]
        return sum(values) / len(values) if values else float("nan")

    def section(self, section: Section) -> list[SectionResult]:
        return [s for s in self.sections if s.section == section]

    def get(self, section: Section, name: str) -> SectionResult | None:
        return next((s for s in self.section(section) if s.name == name), None)

    def mean(self, section: Section) -> float:
        """Mean of the section's normalised metrics (NaN when it has none)."""
        values = [s.normalized for s in self.section(section) if not math.isnan(s.value)]
        return sum(values) / len(values) if values else float("nan")

    @property
    def mean_asr(self) -> float:
        return self.mean("harmfulness")

    @property
    def mean_over_refusal(self) -> float:
        return self.mean("over_refusal")

    @property
    def mean_capability(self) -> float:
        return self.mean("capability")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = {
            "mean_asr": self.mean_asr,
            "mean_over_refusal": self.mean_over_refusal,
            "mean_capability": self.mean_capability,
            "mean_rates": {judge: {"measures": self.judge_measures(judge),
                                   "mean": self.judge_mean(judge)}
                           for judge in self.judge_names},
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResult:
        names = {f.name for f in fields(cls)} - {"sections"}
        result = cls(**{k: v for k, v in data.items() if k in names})
        result.sections = [SectionResult.from_dict(s) for s in data.get("sections", [])]
        return result

    @classmethod
    def load(cls, path: str | Path) -> EvaluationResult:
        file = Path(path)
        if file.is_dir():
            file = file / "results.json"
        try:
            return cls.from_dict(json.loads(file.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, TypeError) as error:
            raise HarcError(f"{file}: not an evaluation result ({error})") from error
