"""No import cycles in our packages, counting imports made only for type checking.

A cycle means two modules are one idea split in two (or one idea missing between them): the graph
comes from grimp, which reads every import statement, `if TYPE_CHECKING:` blocks included, and the
strongly connected components of more than one module are the cycles.
"""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Each group of modules that import one another, directly or through others (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_our_packages_have_no_import_cycles() -> None:
    assert {"api", "localbase", "worker", "core"} <= set(PACKAGES)
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    assert len(graph.modules) > 100, "the import graph is too small to be ours"
    assert cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle_through_three_modules() -> None:
    graph = grimp.ImportGraph()
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.d")
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
