"""The package's layers, read from its source: every import points down, and none goes in a circle.

protocol -> transport -> resources -> workflows -> client -> faces (cli, testing, sync). A
module may import its own layer and the layers below it; the sandbox, a server of its own,
imports only the protocol. Imports inside functions and under ``TYPE_CHECKING`` count like
any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import nemovideo

ROOT = Path(nemovideo.__file__).parent

#: Each layer with the prefixes of the modules in it, lowest first.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("protocol", ("nemovideo._version", "nemovideo.protocol", "nemovideo.sse")),
    ("transport", ("nemovideo.transport",)),
    ("resources", ("nemovideo.resources",)),
    ("workflows", ("nemovideo.workflows",)),
    ("client", ("nemovideo.client",)),
    (
        "faces",
        (
            "nemovideo.cli",
            "nemovideo.queue",
            "nemovideo.testing",
            "nemovideo.__main__",
            "nemovideo.sandbox",
            "nemovideo.sync",
        ),
    ),
)

#: The package's front door loads every public name on demand; it is above every layer.
FRONT = "nemovideo"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports_of(path: Path, name: str, known: Iterable[str]) -> set[str]:
    """Every nemovideo module ``path`` imports, wherever the import statement stands."""
    modules = set(known)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("nemovideo"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(name, path).split(".")
                base = ".".join([*package[: len(package) - node.level + 1], base]).rstrip(".")
            if not base.startswith("nemovideo"):
                continue
            for alias in node.names:
                # `from package import module` imports the module, not the package's names.
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in ROOT.rglob("*.py")}
    return {name: imports_of(path, name, paths) for name, path in paths.items()}


def layer_of(module: str) -> int | None:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def violations(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Every import that points up a layer, or out of the sandbox to anything but the protocol."""
    found = []
    for module, targets in sorted(graph.items()):
        if module == FRONT:
            continue
        rank = layer_of(module)
        if rank is None:
            found.append(f"{module} is in no layer")
            continue
        sandbox = module.startswith("nemovideo.sandbox")
        for target in sorted(targets):
            target_rank = layer_of(target)
            if target == FRONT or target_rank is None:
                found.append(f"{module} imports {target}, which is in no layer")
            elif sandbox and not (target.startswith("nemovideo.sandbox") or target_rank == 0):
                found.append(f"{module} (sandbox) imports {target}: the sandbox uses the protocol")
            elif target_rank > rank:
                found.append(
                    f"{module} ({LAYERS[rank][0]}) imports {target} ({LAYERS[target_rank][0]})"
                )
    return found


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import circles (one path per strongly connected group), by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_import_points_down_a_layer() -> None:
    assert violations(import_graph()) == []


def test_no_import_circle_typing_only_imports_included() -> None:
    assert cycles(import_graph()) == []


def test_the_checks_catch_an_upward_import_and_a_circle() -> None:
    graph = import_graph()
    graph["nemovideo.protocol.errors"].add("nemovideo.client")
    assert violations(graph) == [
        "nemovideo.protocol.errors (protocol) imports nemovideo.client (client)"
    ]
    assert any("nemovideo.protocol.errors" in group for group in cycles(graph))
    graph = import_graph()
    graph["nemovideo.sandbox.core"].add("nemovideo.transport.http")
    assert violations(graph) == [
        "nemovideo.sandbox.core (sandbox) imports nemovideo.transport.http: "
        "the sandbox uses the protocol"
    ]


def test_the_graph_sees_typing_only_and_function_level_imports() -> None:
    graph = import_graph()
    # client.py imports the workflows inside its methods and under TYPE_CHECKING only.
    assert {"nemovideo.workflows.animate", "nemovideo.workflows.results"} <= graph[
        "nemovideo.client"
    ]


@pytest.mark.parametrize("module", sorted(import_graph()))
def test_no_module_imports_a_private_name_of_another(module: str) -> None:
    path = next(p for p in ROOT.rglob("*.py") if module_name(p) == module)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nemovideo"):
            private = [
                a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"
            ]
            assert not private, f"{module} imports {private} from {node.module}"
