"""The package's layers, read from the imports of its source files (including imports
inside functions and under ``TYPE_CHECKING``): imports go only downward, the methods
library stands alone, no module imports itself through a cycle, and the top folder of
the package holds at most six modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evaluation"
ALLOWED = {
    "data": {"data"},
    "methods": {"methods"},
    "study": {"data", "methods", "study"},
    "pipeline": {"data", "methods", "study", "pipeline"},
}
"""Which layers each layer may import: ``methods`` is the reusable library and imports
no other layer; ``data`` needs none; the study builds on both; the pipeline on all."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The module an imported dotted name lives in (the longest known prefix)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports (a package stands for its ``__init__``)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # a submodule named in the list is imported itself; any other name lives in ``base``
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "evaluation":
                target = _target(name, modules)
                if target and target != module:
                    found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def test_every_module_belongs_to_a_layer_or_is_the_entry_point():
    loose = [m for m in _modules() if _layer(m) is None and m not in ("evaluation", "evaluation.__main__")]
    assert not loose, f"modules outside data/methods/study/pipeline: {loose}"


def test_top_folder_keeps_at_most_six_modules():
    assert len(list(PACKAGE.glob("*.py"))) <= 6


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_only_go_downward(layer):
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items() if _layer(module) == layer
        for target in targets if _layer(target) is not None and _layer(target) not in ALLOWED[layer]
    )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_check_sees_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
    """The checks above can fail: a planted cycle and an upward import are reported."""
    package = tmp_path / "evaluation"
    for folder in ("methods", "study"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "methods" / "a.py").write_text("from evaluation.study.b import x\n")
    (package / "study" / "b.py").write_text("def f():\n    from evaluation.methods import a\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", package)
    graph = _graph()
    assert graph["evaluation.methods.a"] == {"evaluation.study.b"}
    assert graph["evaluation.study.b"] == {"evaluation.methods.a"}
    with pytest.raises(AssertionError, match="methods.a imports evaluation.study.b"):
        test_imports_only_go_downward("methods")
    with pytest.raises(pytest.fail.Exception, match="import cycle"):
        test_no_import_cycle()
