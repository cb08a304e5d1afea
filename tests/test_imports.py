"""Imports flow one way: results and reports never load the engine or mesa, and no cycles.

Two independent checks. At run time, fresh interpreters import a module and report what got
loaded (mesa's batch runner changes the multiprocessing start method when imported, so
loading it is a side effect, not just a cost). Statically, every module of ``sim/`` is parsed
and its imports (module level and inside functions) followed: the module graph and the
package graph must be acyclic (imports under ``if TYPE_CHECKING:`` never run, so they do not
count there), and no engine module may be reachable from ``sim.results`` or ``sim.report``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sim"

ENGINE = ("sim.model", "sim.experiments.runner", "mesa")
"""Modules (and their submodules) that results and reports must not load."""

CHECK_LOADED = """\
import multiprocessing, sys
{body}
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "mesa" or m.startswith({engine!r}))
print(loaded)
assert not loaded, loaded
assert multiprocessing.get_start_method(allow_none=True) is None, "start method was set"
"""


def _loaded_in_fresh_interpreter(body: str) -> subprocess.CompletedProcess[str]:
    code = CHECK_LOADED.format(body=body, engine=ENGINE[:2])
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize(
    "module",
    ["sim.metrics", "sim.results", "sim.results.store", "sim.results.tables", "sim.report.html"],
)
def test_importing_leaves_the_engine_and_mesa_unloaded(module: str) -> None:
    done = _loaded_in_fresh_interpreter(f"import {module}")
    assert done.returncode == 0, done.stderr + done.stdout


def test_cli_help_leaves_the_engine_and_mesa_unloaded() -> None:
    body = (
        "import runpy\n"
        "sys.argv = ['channel-sim', 'run', '--help']\n"
        "try:\n"
        "    runpy.run_module('sim', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
    )
    done = _loaded_in_fresh_interpreter(body)
    assert done.returncode == 0, done.stderr
    assert "--overwrite" in done.stdout  # the help really was printed


def test_the_check_sees_the_engine_when_it_is_loaded() -> None:
    """The runtime check can fail: importing the runner does load mesa and the model."""
    done = _loaded_in_fresh_interpreter("import sim.experiments.runner")
    assert done.returncode != 0
    assert "mesa" in done.stdout and "sim.model.model" in done.stdout


# --------------------------------------------------------------------------- static graph


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
"""Every module of the package, by dotted name."""


def _import_nodes(tree: ast.AST, *, run_time: bool) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, anywhere in it; ``run_time``: not the typing ones."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        if run_time and isinstance(node, ast.If) and _is_type_checking(node.test):
            children: list[ast.AST] = list(node.orelse)
        else:
            children = list(ast.iter_child_nodes(node))
        for child in children:
            visit(child)

    visit(tree)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _base(name: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module or ''}".rstrip(".")


def _imports(name: str, *, run_time: bool = False) -> set[str]:
    """Dotted names a module imports (anywhere in it), submodules resolved where they exist."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in _import_nodes(tree, run_time=run_time):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        else:
            base = _base(name, node)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
    return found


IMPORTS: dict[str, set[str]] = {name: _imports(name) for name in MODULES}
"""Everything each module imports, typing-only imports included (for the layer rules)."""


def _module_edges(name: str) -> set[str]:
    """The ``sim`` modules a module's run-time imports execute (``from a import b``: a.b if
    it is a module, else a)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    edges: set[str] = set()
    for node in _import_nodes(tree, run_time=True):
        if isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names if alias.name in MODULES)
            continue
        base = _base(name, node)
        for alias in node.names:
            target = f"{base}.{alias.name}"
            edges.add(target if target in MODULES else base)
    return {target for target in edges if target in MODULES and target != name}


MODULE_GRAPH: dict[str, set[str]] = {name: _module_edges(name) for name in MODULES}
"""Module -> the ``sim`` modules it imports at run time, in functions too."""


def _reachable(start: str) -> set[str]:
    """Every module imported from ``start``, directly or through other ``sim`` modules."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in IMPORTS.get(todo.pop(), set()):
            if target not in seen:
                seen.add(target)
                # importing a.b.c runs a/__init__ and a/b/__init__ too
                parts = target.split(".")
                todo.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return seen


def _package(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "sim" and len(parts) > 1 else None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles found by depth-first search (empty if the graph is acyclic)."""
    found, state = [], dict.fromkeys(graph, "new")

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state[nxt] == "open":
                found.append([*path[path.index(nxt) :], nxt])
            elif state[nxt] == "new":
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in graph:
        if state[node] == "new":
            visit(node, [node])
    return found


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, targets in MODULE_GRAPH.items():
        source = _package(name)
        if source is None:
            continue
        edges = graph.setdefault(source, set())
        edges.update(p for t in targets if (p := _package(t)) and p != source)
    for targets in list(graph.values()):
        for target in targets:
            graph.setdefault(target, set())
    return graph


def test_the_package_import_graph_has_no_cycle() -> None:
    graph = _package_graph()
    assert {"results", "report", "experiments", "model", "metrics"} <= set(graph)
    assert _cycles(graph) == []
    assert "results" not in graph["metrics"] and "experiments" not in graph["results"]


def test_the_module_import_graph_has_no_cycle() -> None:
    """Function-level imports count: a cycle through them is one at run time."""
    assert {"sim.report.html", "sim.experiments.optimize", "sim.model.model"} <= set(MODULE_GRAPH)
    assert _cycles(MODULE_GRAPH) == []


def test_the_module_graph_sees_imports_inside_functions_and_skips_typing_ones() -> None:
    assert "sim.experiments.optimize" in MODULE_GRAPH["sim.cli"]  # inside a command
    code = "if TYPE_CHECKING:\n    import a\nelse:\n    import b\ndef f():\n    import c\n"
    tree = ast.parse(code)
    names = {n.names[0].name for n in _import_nodes(tree, run_time=True)}
    assert names == {"b", "c"}
    assert len(_import_nodes(tree, run_time=False)) == 3


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


@pytest.mark.parametrize(
    "module",
    sorted(
        m
        for m in MODULES
        if m.startswith(("sim.results", "sim.report", "sim.metrics", "sim.scenario"))
    ),
)
def test_results_reports_and_scenarios_reach_no_engine_module(module: str) -> None:
    engine = sorted(m for m in _reachable(module) if m.startswith(ENGINE))
    assert engine == [], f"{module} reaches {engine}"


def test_the_static_check_sees_the_engine_behind_the_runner() -> None:
    reached = _reachable("sim.experiments.study")
    assert {"sim.experiments.runner", "sim.model.model", "mesa"} <= reached
