"""The shape of the code base: module sizes, import direction, no import cycles,
no private AMP internals.  Read from the source (AST), nothing imported."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import twisted.protocols.amp as amp
from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parents[1]
GAME = ROOT / "game"
MAX_LINES = 700


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(GAME.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def imported_names(name: str) -> Iterator[str]:
    """Every module that ``name`` imports, anywhere in its body (function-level
    imports too: a cycle deferred into a function is still a cycle)."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            # "from game.server import sync" imports the module game.server.sync.
            yield from (f"{base}.{alias.name}" for alias in node.names)


def game_imports(name: str) -> set[str]:
    return {target for target in imported_names(name) if target in MODULES and target != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    return found


def amp_private_names() -> set[str]:
    """Underscore names of ``twisted.protocols.amp`` and its classes."""
    names = {name for name in vars(amp) if name.startswith("_") and not name.startswith("__")}
    for value in vars(amp).values():
        if isinstance(value, type) and value.__module__ == amp.__name__:
            names |= {n for n in vars(value) if n.startswith("_") and not n.startswith("__")}
    return names


def defined_names() -> set[str]:
    """Every function, class, attribute and variable name our own code defines."""
    names: set[str] = set()
    for tree in TREES.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


class LayoutTests(SynchronousTestCase):
    def test_no_module_is_over_the_size_limit(self) -> None:
        sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
        self.assertEqual({n: s for n, s in sizes.items() if s > MAX_LINES}, {})

    def test_no_import_cycle(self) -> None:
        self.assertEqual(cycles({name: game_imports(name) for name in MODULES}), [])

    def test_the_cycle_finder_sees_a_cycle(self) -> None:
        graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
        self.assertEqual(cycles(graph), [["a", "b", "c"]])

    def test_imports_are_read_from_function_bodies_too(self) -> None:
        # cli runs the cluster command through a function-level import.
        self.assertIn("game.client.cluster", game_imports("game.client.cli"))

    def test_import_direction(self) -> None:
        """rules <- protocol <- server / client <- client_gui; server and
        clients never import each other; rules use the standard library only,
        and the engine the standard library and rules only."""
        wrong = []
        for name in MODULES:
            targets = set(imported_names(name))
            # The pure packages: the standard library and the packages named only.
            for package, allowed in (
                ("game.rules", ("game.rules",)),
                ("game.engine", ("game.engine", "game.rules")),
            ):
                if name.startswith(package):
                    outside = {
                        t
                        for t in targets
                        if not t.startswith(allowed)
                        and t.split(".")[0] not in sys.stdlib_module_names
                        and t != "__future__"
                    }
                    wrong += [(name, t) for t in outside]
            if name.startswith("game.server"):
                wrong += [(name, t) for t in targets if t.startswith(("game.client",))]
            if name.startswith(("game.client", "game.client_gui")):
                wrong += [(name, t) for t in targets if t.startswith("game.server")]
        self.assertEqual(wrong, [])

    def test_no_private_amp_name_is_used(self) -> None:
        private = amp_private_names() - defined_names()
        pattern = re.compile(r"\b(?:amp\.)?(" + "|".join(map(re.escape, private)) + r")\b")
        uses = [
            (name, match.group(1))
            for name, path in MODULES.items()
            for match in pattern.finditer(path.read_text())
        ]
        self.assertEqual(uses, [])
        # The names a past shortcut used are among those looked for.
        self.assertLessEqual({"_sendBoxCommand", "_safeEmit", "_commandDispatch"}, private)

    def test_every_module_is_in_the_architecture_page(self) -> None:
        page = (ROOT / "docs" / "architecture.md").read_text()
        listing = page[page.index("## Modules") : page.index("## A move, end to end")]
        missing = [
            name
            for name, path in MODULES.items()
            if path.name != "__init__.py" and not re.search(rf"\b{path.stem}\.py\b", listing)
        ]
        self.assertEqual(missing, [])
