"""The import structure of toolscale/ (docs/design.md, Layers): packages form layers and a package
imports only from layers below it, so no import runs back up and no cycle exists between modules.
Every import that runs counts, those inside functions included; `if TYPE_CHECKING:` ones do not."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "toolscale"

# Lowest first. A new package must be placed here, which is the point: where it sits is a decision.
LAYERS: list[set[str]] = [
    {"errors"},
    {"atomic", "resources", "strict", "yamlfile"},
    {"spec"},
    {"engine", "llm", "settings"},
    {"populate"},
    {"domain"},
    {"tasks"},
    {"authoring", "data", "examples", "schemas"},
    {"tau2", "pipeline", "train", "review"},
    {"eval"},
    {"commands"},
    {"cli"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node that can run: `if TYPE_CHECKING:` blocks are skipped (they exist only for mypy)."""
    found, queue = [], [tree]
    while queue:
        node = queue.pop()
        found.append(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            queue.extend(node.orelse)
            continue
        queue.extend(ast.iter_child_nodes(node))
    return found


def imports() -> dict[str, set[str]]:
    """toolscale module -> the toolscale modules it imports when it runs."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path)
        for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolscale"):
                graph[module].add(node.module)
            elif isinstance(node, ast.Import):
                graph[module] |= {alias.name for alias in node.names if alias.name.startswith("toolscale")}
    return graph


def layer_of(module: str) -> int:
    package = module.split(".")[1]
    return next(index for index, layer in enumerate(LAYERS) if package in layer)


def test_every_package_has_a_layer() -> None:
    packages = {module.split(".")[1] for module in imports() if "." in module}
    assert packages <= set().union(*LAYERS), f"place these in LAYERS: {sorted(packages - set().union(*LAYERS))}"


def test_imports_only_run_downward() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in imports().items()
        if "." in module
        for target in targets
        if "." in target and module.split(".")[1] != target.split(".")[1] and layer_of(target) >= layer_of(module)
    ]
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycle_between_modules() -> None:
    graph = imports()
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path, module, target]
            if target not in state and (cycle := visit(target, [*path, module])):
                return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [])):
            raise AssertionError(" -> ".join(cycle[cycle.index(cycle[-1]) :]))
