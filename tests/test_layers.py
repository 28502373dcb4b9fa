"""Imports run downward only: every module of a package imports (at the top or inside a
function) only from its own package or from packages below it in LAYERS. The order is the
pipeline's; ``training`` sits below ``analysis`` because the analysis of answers reuses the
training data's answer supplier."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "harc"
# lowest first; packages on one line are independent of each other
LAYERS = [
    ("errors",),
    ("io", "registry"),
    ("cache", "figures", "manifest", "jobs", "document"),
    ("positions",),
    ("models",),
    ("data",),
    ("activations",),
    ("directions", "generation"),
    ("judges",),
    ("attacks",),
    ("training",),
    ("analysis",),
    ("evaluation",),
    ("report",),
    ("methods",),
    ("demo",),
    ("cli",),
    ("__main__",),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _package(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    return parts[0].removesuffix(".py")


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        found |= {name.split(".")[1] for name in names
                  if name.startswith("harc.") and len(name.split(".")) > 1}
    return found


def test_every_package_has_a_layer():
    packages = {_package(path) for path in SRC.rglob("*.py")} - {"__init__"}
    assert packages <= set(RANK), f"no layer for {sorted(packages - set(RANK))}"


def test_imports_run_downward_only():
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        package = _package(path)
        if package == "__init__":
            continue
        for target in _imported_packages(path) - {package}:
            if RANK[target] >= RANK[package]:
                upward.append(f"{path.relative_to(SRC)} imports harc.{target}")
    assert not upward, "\n".join(upward)
