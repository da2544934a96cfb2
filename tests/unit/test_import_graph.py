"""vreason's import graph has no cycles: between modules, and between its top-level packages.

Imports are read with `ast` from the source, not by importing it, so an import inside a function or under
`if TYPE_CHECKING:` counts as much as one at the top of the file: a dependency hidden by where its import sits
is still a dependency. Relative imports are resolved; `from package import name` depends on `package.name`
when that is a module, and on `package` itself unless `package` is an ancestor of the importing module (an
ancestor package is always imported first, whatever the module imports from it).
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "vreason"

# Cycles tolerated for now, each as the sorted module names of one strongly connected component; every entry
# says why and when it goes. Keep this empty: a cycle is fixed, not listed, unless its files are mid-rewrite.
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_files() -> dict[str, Path]:
    files = {}
    for path in sorted((SOURCE / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The vreason modules `name` imports anywhere in its source (module level, functions, TYPE_CHECKING)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known
            found.update(submodules)
            is_ancestor = name.startswith(base + ".")
            if base in known and (len(submodules) < len(node.names) or not is_ancestor):
                found.add(base)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imported_modules(name, path, known) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan, iterative), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def one_loop(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A concrete loop a -> b -> ... -> a inside a component, for the failure message."""
    members = set(component)
    path, seen = [component[0]], {component[0]}
    while True:
        following = sorted(graph[path[-1]] & members)
        back = [n for n in following if n in seen]
        if back:
            return path[path.index(back[0]):] + [back[0]]
        step = next(n for n in following if n not in seen)
        path.append(step)
        seen.add(step)


def describe(graph: dict[str, set[str]], component: list[str]) -> str:
    return " -> ".join(one_loop(graph, component)) + f"  (component: {', '.join(component)})"


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Imports between vreason's top-level packages (vreason.eval -> vreason.tasks), from the module graph;
    modules directly under vreason (api, errors, the root) are left out, as they are meant to be shared."""

    def package_of(name: str) -> str | None:
        parts = name.split(".")
        top = ".".join(parts[:2])
        return top if len(parts) > 1 and (SOURCE / PACKAGE / parts[1]).is_dir() else None

    packages: dict[str, set[str]] = {}
    for name, targets in graph.items():
        source = package_of(name)
        if source is None:
            continue
        packages.setdefault(source, set())
        for target in targets:
            package = package_of(target)
            if package is not None and package != source:
                packages[source].add(package)
    return packages


def test_the_graph_reader_sees_every_kind_of_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "from pkg.sub import thing\n"
        "if TYPE_CHECKING:\n    import pkg.typed\n"
        "def later():\n    from pkg import lazy\n"
    )
    path = tmp_path / "pkg" / "mod.py"
    path.write_text(source)
    known = {"pkg", "pkg.mod", "pkg.sibling", "pkg.sub", "pkg.typed", "pkg.lazy", "pkg.unused"}
    assert imported_modules("pkg.mod", path, known) == {"pkg.sibling", "pkg.sub", "pkg.typed", "pkg.lazy"}
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert one_loop(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


def test_vreason_has_no_import_cycle_between_modules():
    graph = import_graph()
    assert len(graph) > 50, "the source tree was not found"
    components = cycles(graph)
    found = [c for c in components if frozenset(c) not in KNOWN_CYCLES]
    assert not found, "import cycles:\n" + "\n".join(describe(graph, c) for c in found)
    # An allowance that no longer matches a real cycle is deleted, so the list cannot go stale.
    stale = [sorted(k) for k in KNOWN_CYCLES if sorted(k) not in components]
    assert not stale, f"KNOWN_CYCLES entries that are no longer cycles (remove them): {stale}"


def test_vreason_packages_depend_one_way():
    packages = package_graph(import_graph())
    assert {"vreason.eval", "vreason.tasks", "vreason.scoring"} <= packages.keys()
    mutual = sorted((a, b) for a, targets in packages.items() for b in targets if a < b and a in packages.get(b, ()))
    assert not mutual, f"packages that import each other: {mutual}"
    # Task packs build on the scoring vocabulary; the evaluation harness runs task packs, never the reverse.
    assert "vreason.eval" not in packages["vreason.tasks"]
