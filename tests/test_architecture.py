"""The package's shape, checked from its source: no import cycle, no private name imported from
another module, and the walls between layers that the README's architecture section draws.

Every module of ``wavenet_core`` is parsed (``ast``, nothing is imported); an edge A → B is any
``import`` or ``from … import`` in A, at module level or inside a function, that names B or
something in B. Importing a submodule is an edge to that submodule only (the parent packages'
``__init__`` files are not counted as edges: they hold no logic).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "wavenet_core"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(module: str, path: Path) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import of a package module in ``path``."""
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                # `from .pkg import module` is an edge to that module, not to the package
                out.append((sub, None, node.lineno) if sub in MODULES else (target, alias.name, node.lineno))
    return out


IMPORTS = {m: _imports(m, p) for m, p in MODULES.items()}
EDGES: dict[str, dict[str, int]] = {}          # importer → {imported: first line}
for _m, _found in IMPORTS.items():
    for _target, _name, _line in _found:
        if _target in MODULES and _target != _m:
            EDGES.setdefault(_m, {}).setdefault(_target, _line)


def _in(module: str, *areas: str) -> bool:
    """Whether ``module`` is one of ``areas`` (dotted names below the package) or inside one."""
    return any(module == f"{PACKAGE}.{a}" or module.startswith(f"{PACKAGE}.{a}.") for a in areas)


# The walls: (who, may not import, why).
WALLS = [
    (("model", "generation"), ("controls", "measure", "evaluation", "training", "studio", "plots"),
     "the model and its generators know nothing of controls, measurement, evaluation, training, plots or the UI"),
    (("measure",), ("model", "generation", "controls", "evaluation", "studio"),
     "measurement reads audio and knows nothing of the model, the controls, evaluation or the UI"),
]


def wall_violations() -> dict[tuple[str, str], str]:
    """{(importer, imported): the rule it breaks}."""
    out = {}
    for importer, targets in EDGES.items():
        for target, line in targets.items():
            where = f"{importer}:{line} imports {target}"
            for who, forbidden, why in WALLS:
                if _in(importer, *who) and _in(target, *forbidden):
                    out[(importer, target)] = f"{where}: {why}"
            if _in(target, "evaluation") and not _in(importer, "evaluation", "commands"):
                out[(importer, target)] = f"{where}: only evaluation/ and the CLI's command modules use evaluation/"
            if _in(target, "studio") and not (_in(importer, "studio") or importer == f"{PACKAGE}.commands.app"):
                out[(importer, target)] = f"{where}: only studio/ and commands/app.py use studio/"
    return out


def private_imports() -> dict[tuple[str, str], str]:
    """{(importer, imported module): what} for every ``_name`` imported from another module."""
    out = {}
    for importer, found in IMPORTS.items():
        for target, name, line in found:
            if target == importer:
                continue
            private = [p for p in ([name] if name else target.split(".")) if p.startswith("_") and not p.startswith("__")]
            if private:
                out[(importer, target)] = f"{importer}:{line} imports {private[0]} from {target}"
    return out


def reaches(start: str, goal: str) -> bool:
    """Whether ``goal`` is reachable from ``start`` along EDGES."""
    seen, todo = {start}, [start]
    while todo:
        for n in EDGES.get(todo.pop(), {}):
            if n == goal:
                return True
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return False


def find_cycle() -> list[str] | None:
    """One import cycle as [a, b, …, a], or None (depth-first search over EDGES, leaving out
    the known cycle edges below)."""
    state: dict[str, int] = {}           # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(EDGES.get(m, {})):
            if (m, n) in KNOWN_CYCLE_EDGES:
                continue
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(MODULES):
        if m not in state and (found := visit(m)):
            return found
    return None


# Edges that break a rule in a file this change does not own, each with what fixes it. Each one
# is an xfail(strict=True) test below: when the fix lands it passes, and strict turns that into a
# failure that says to delete the entry here.
KNOWN_WALL_BREAKS: dict[tuple[str, str], str] = {}
KNOWN_CYCLE_EDGES: dict[tuple[str, str], str] = {}
KNOWN_PRIVATE_IMPORTS: dict[tuple[str, str], str] = {}


def test_modules_found():
    assert f"{PACKAGE}.model.wavenet" in MODULES and f"{PACKAGE}.measure.descriptors" in MODULES
    assert sum(len(v) for v in EDGES.values()) > 50          # the parser sees the package's imports


def test_no_import_cycle():
    cycle = find_cycle()
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_no_private_name_imported_from_another_module():
    found = {k: v for k, v in private_imports().items() if k not in KNOWN_PRIVATE_IMPORTS}
    assert not found, "\n".join(sorted(found.values()))


def test_layering_walls():
    found = {k: v for k, v in wall_violations().items() if k not in KNOWN_WALL_BREAKS}
    assert not found, "\n".join(sorted(found.values()))


@pytest.mark.parametrize("edge", [pytest.param(e, marks=pytest.mark.xfail(strict=True, reason=r), id="→".join(e))
                                  for e, r in KNOWN_WALL_BREAKS.items()] or [pytest.param(None, marks=pytest.mark.skip(
                                      reason="no known wall break"))])
def test_known_wall_break_is_fixed(edge):
    assert edge not in wall_violations()


@pytest.mark.parametrize("edge", [pytest.param(e, marks=pytest.mark.xfail(strict=True, reason=r), id="→".join(e))
                                  for e, r in KNOWN_PRIVATE_IMPORTS.items()] or [pytest.param(None, marks=pytest.mark.skip(
                                      reason="no known private import"))])
def test_known_private_import_is_fixed(edge):
    assert edge not in private_imports()


@pytest.mark.parametrize("edge", [pytest.param(e, marks=pytest.mark.xfail(strict=True, reason=r), id="→".join(e))
                                  for e, r in KNOWN_CYCLE_EDGES.items()] or [pytest.param(None, marks=pytest.mark.skip(
                                      reason="no known cycle"))])
def test_known_cycle_is_broken(edge):
    importer, imported = edge
    assert not (imported in EDGES.get(importer, {}) and reaches(imported, importer))


def test_the_checks_can_fail(monkeypatch):
    """The checkers find what they look for: a cycle, a wall break and a private import planted in
    copies of the graph."""
    edges = {k: dict(v) for k, v in EDGES.items()}
    edges.setdefault(f"{PACKAGE}.model.mulaw", {})[f"{PACKAGE}.model.wavenet"] = 1
    edges[f"{PACKAGE}.model.mulaw"][f"{PACKAGE}.measure.descriptors"] = 2
    monkeypatch.setitem(globals(), "EDGES", edges)
    assert find_cycle() is not None
    assert (f"{PACKAGE}.model.mulaw", f"{PACKAGE}.measure.descriptors") in wall_violations()
    imports = dict(IMPORTS)
    imports[f"{PACKAGE}.plots"] = [(f"{PACKAGE}.model.mulaw", "_table", 3)]
    monkeypatch.setitem(globals(), "IMPORTS", imports)
    assert (f"{PACKAGE}.plots", f"{PACKAGE}.model.mulaw") in private_imports()
