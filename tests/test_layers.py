"""The IPython glue flows one way: ``ipython`` -> ``magics``/``losscheck`` -> ``shellhook``/``ipycompat``
-> the engine. The engine (everything that explains and watches) never imports the glue, so it runs
the same in a script, under pytest or in a notebook checker, and the glue can grow per IPython version
without a circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nllhint"
GLUE = {"ipython", "magics", "losscheck", "shellhook", "ipycompat"}  # and any module that imports IPython
FRONT_ENDS = {"__init__", "__main__", "cli", "demo"}  # entry points: may use the glue


def imports() -> dict[str, set[str]]:
    """module -> the nllhint modules it imports (top level: ``rules.shapes`` counts as ``rules``)."""
    graph: dict[str, set[str]] = {"IPython": set()}
    for path in PACKAGE.rglob("*.py"):
        parts = ("nllhint",) + path.relative_to(PACKAGE).with_suffix("").parts
        package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
        found = graph.setdefault(parts[1], set())
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
                module = ".".join(filter(None, [base, node.module or ""]))
                targets = [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
            for target in targets:
                names = target.split(".")
                if names[0] == "nllhint" and len(names) > 1:
                    found.add(names[1])
                elif names[0] == "IPython":
                    found.add("IPython")
        found.discard(parts[1])
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def glue(graph: dict[str, set[str]]) -> set[str]:
    return GLUE | {m for m, deps in graph.items() if "IPython" in deps}


def test_the_engine_never_imports_the_glue():
    graph = imports()
    assert GLUE <= set(graph), "a glue module was renamed: update GLUE"
    engine = set(graph) - glue(graph) - FRONT_ENDS - {"IPython"}
    offenders = {m: sorted(reachable(graph, m) & glue(graph)) for m in engine if reachable(graph, m) & glue(graph)}
    assert offenders == {}


def test_the_glue_has_no_circle_and_flows_from_ipython_down():
    graph = imports()
    circles = sorted(m for m in glue(graph) if m in reachable(graph, m))
    assert circles == []
    assert {"magics", "losscheck", "shellhook"} <= graph["ipython"]
    assert "ipython" not in reachable(graph, "magics") | reachable(graph, "losscheck")
