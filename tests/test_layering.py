"""The house rules, read from the code's own imports (ast; nothing is imported or run).

- stage packages never import each other; what two stages share lives in the shared layers
  (``geometry/``, ``io/``, ``imaging/``, ``frame.py``, ``errors.py``, ``parameters.py``), which
  import no stage, and only ``orchestration/`` (with the thin ``api``/``cli`` faces) knows the
  order of the stages;
- science never imports ``config`` (it takes its stage's parameter section or keywords);
- dask only in ``orchestration/``; no ``print`` in library code;
- the import graph of ``pipeline/`` is acyclic; a function-local import says why
  (``# deferred: ...`` on its line or the line above);
- package faces (``__init__.py``) only hand names on; no file over 500 lines.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "pipeline"
STAGES = ("ingestion", "calibration", "crosschecking", "registration", "mosaicking")
SHARED = ("geometry", "io", "imaging", "frame", "errors", "parameters")
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _files() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(name: str) -> str:
    """The module a dotted import name refers to (``pipeline.geometry.FrameCamera`` -> the package)."""
    mods = _files()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name


class _Imports(ast.NodeVisitor):
    """Every import of a module: (target, line, function-local?, under TYPE_CHECKING?)."""

    def __init__(self, module: str, is_package: bool):
        self.base = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, int, bool, bool]] = []
        self.depth = 0
        self.type_only = 0

    def visit_FunctionDef(self, node):  # noqa: N802 - ast API
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815 - ast API

    def visit_If(self, node):  # noqa: N802 - ast API
        test = ast.unparse(node.test)
        guarded = test in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        self.type_only += guarded
        for child in node.body:
            self.visit(child)
        self.type_only -= guarded
        for child in node.orelse:
            self.visit(child)

    def _add(self, name: str, node) -> None:
        self.found.append((name, node.lineno, self.depth > 0, self.type_only > 0))

    def visit_Import(self, node):  # noqa: N802 - ast API
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node):  # noqa: N802 - ast API
        if node.level:
            base = self.base.split(".")
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        if module.startswith("pipeline"):
            for alias in node.names:  # `from pipeline.geometry import warp` imports a module
                self._add(f"{module}.{alias.name}", node)
        else:
            self._add(module, node)


@cache
def _imports(module: str) -> tuple[tuple[str, int, bool, bool], ...]:
    path = _files()[module]
    visitor = _Imports(module, path.name == "__init__.py")
    visitor.visit(ast.parse(path.read_text(), filename=str(path)))
    return tuple(visitor.found)


def _internal(module: str, *, runtime_only: bool = False) -> set[str]:
    out = set()
    for name, _, _, type_only in _imports(module):
        if name.startswith("pipeline") and not (runtime_only and type_only):
            target = _resolve(name)
            if target and target != module:
                out.add(target)
    return out


def _room(module: str) -> str:
    """The top-level room of a module: ``pipeline.geometry.warp`` -> ``geometry``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _in(module: str, rooms) -> bool:
    return _room(module) in rooms


def test_stage_packages_never_import_each_other():
    offenders = [f"{m} -> {t}" for m in _files() if _in(m, STAGES)
                 for t in _internal(m) if _in(t, STAGES) and _room(t) != _room(m)]
    assert not offenders, offenders


def test_shared_layers_import_no_stage_and_nothing_above_them():
    offenders = [f"{m} -> {t}" for m in _files() if _in(m, SHARED)
                 for t in _internal(m) if not _in(t, SHARED) and t != "pipeline"]
    assert not offenders, offenders


def test_only_orchestration_knows_the_order_of_stages():
    """A module that uses two or more stages is orchestration (or its thin faces: api, cli;
    config composes the stages' parameter sections; the simulator is a tool)."""
    allowed = {"orchestration", "api", "cli", "simulation"}
    offenders = []
    for m in _files():
        stages = {_room(t) for t in _internal(m) if _in(t, STAGES) and _room(t) != _room(m)}
        if m == "pipeline.config":
            assert all(t.endswith(".params") for t in _internal(m) if _in(t, STAGES)), _internal(m)
        elif len(stages) >= 2 and not _in(m, allowed):
            offenders.append(f"{m}: {sorted(stages)}")
    assert not offenders, offenders


def test_science_never_imports_config():
    offenders = [f"{m} -> {t}" for m in _files() if _in(m, (*STAGES, *SHARED, "report"))
                 for t in _internal(m) if t == "pipeline.config"]
    assert not offenders, offenders


@pytest.mark.parametrize("lib", ["dask", "distributed", "dask_jobqueue"])
def test_dask_only_in_orchestration(lib):
    offenders = [m for m in _files() if not _in(m, ("orchestration",))
                 and any(name.split(".")[0] == lib for name, *_ in _imports(m))]
    assert not offenders, f"{lib} imported outside pipeline/orchestration: {offenders}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_is_acyclic():
    """Every import counts, function-local and typing-only ones included; a package's face
    (``__init__``) is a node like any module."""
    assert _cycles({m: _internal(m) for m in _files()}) == []


def test_function_local_imports_say_why():
    offenders = []
    for m, path in _files().items():
        lines = path.read_text().splitlines()
        for name, line, local, _ in _imports(m):
            here = lines[line - 1]
            above = lines[line - 2] if line >= 2 else ""
            if local and "# deferred:" not in here and "# deferred:" not in above:
                offenders.append(f"{path.relative_to(ROOT)}:{line} ({name})")
    assert not offenders, offenders


def test_package_faces_only_hand_names_on():
    offenders = []
    for m, path in _files().items():
        if path.name != "__init__.py" or m == "pipeline":
            continue
        tree = ast.parse(path.read_text())
        defs = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))]
        if defs:
            offenders.append(f"{path.relative_to(ROOT)}: {defs}")
    assert not offenders, offenders


def test_no_file_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_no_print_in_library_code():
    offenders = []
    for f in PKG.rglob("*.py"):
        if f.name in ("cli.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders
