"""``harc demo``: the whole HARC story on one model in one command, with one report."""

from __future__ import annotations

from harc.demo.budget import BUDGETS, DemoBudget, get_budget
from harc.demo.pipeline import STAGES, DemoResult, run_demo

__all__ = ["BUDGETS", "STAGES", "DemoBudget", "DemoResult", "get_budget", "run_demo"]
