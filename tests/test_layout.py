"""The package shows the pipeline: sub-packages in layers, no import cycle, modules of a readable size."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "archdsl"
# Each stage and what it may import besides itself and the shared modules at the top (span, errorcodes,
# diagnostics, remembered); the surface (api, cli, catalog) may import anything.
LAYERS = {"ir": set(), "front": {"ir"}, "elaboration": {"front", "ir"}, "back": {"elaboration", "front", "ir"},
          "reports": {"back", "elaboration", "front", "ir"}}
SHARED = {"archdsl.span", "archdsl.errorcodes", "archdsl.diagnostics", "archdsl.remembered", "archdsl"}
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The archdsl modules ``path`` imports, at any depth of its code (a function's imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("archdsl"):
            submodules = {f"{node.module}.{a.name}" for a in node.names} & set(modules)
            found |= submodules or {node.module}  # `from archdsl import ir` imports archdsl.ir
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("archdsl")}
    return found


def test_no_module_imports_one_that_imports_it() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) & set(modules) for name, path in modules.items()}

    def reaches(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += graph.get(name, ())
        return seen

    cycles = sorted(name for name in modules if name in reaches(name) and name.count(".") > 1)
    assert cycles == []


def test_each_stage_imports_only_the_stages_before_it() -> None:
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        stage = name.split(".")[1] if name.count(".") >= 1 else ""
        if stage not in LAYERS:
            continue
        for imported in _imports(path, modules) - SHARED:
            other = imported.split(".")[1]
            allowed = other == stage or other in LAYERS[stage] if other in LAYERS else imported in SHARED
            if not allowed:
                wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_every_module_is_under_500_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines()))
            >= MAX_LINES}
    assert long == {}
