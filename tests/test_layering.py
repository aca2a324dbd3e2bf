"""The science packages never import dask: only the orchestration layer does (DESIGN.md §5.1)."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "pipeline"
SCIENCE = ["geometry", "io", "calibration", "registration", "mosaicking", "simulation"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", SCIENCE)
def test_science_packages_do_not_import_dask(package):
    files = sorted((PKG / package).rglob("*.py"))
    offenders = [str(f.relative_to(PKG)) for f in files if {"dask", "distributed"} & _imports(f)]
    assert not offenders, f"dask imported in science code: {offenders}"


def test_dask_only_in_orchestration():
    allowed = {"graph.py", "scheduler.py", "ingestion.py", "tasks.py"}
    users = {f.name for f in PKG.glob("*.py") if "dask" in _imports(f)}
    assert users <= allowed, users - allowed


def test_no_print_in_library_code():
    offenders = []
    for f in PKG.rglob("*.py"):
        if f.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{f.relative_to(PKG)}:{node.lineno}")
    assert not offenders, offenders
