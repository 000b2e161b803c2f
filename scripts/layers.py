"""The import graph of the fxwidgets package: cycles and imports that run up the layers.

Counts every import, including those inside functions. Run it to see the numbers; tests/test_architecture.py
asserts both are zero. The layers and why are in docs/architecture.md.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

#: Which rooms a room may import from (besides itself). compute and runtime sit at the bottom and know
#: nothing of each other; results know compute; widgets know compute, runtime and results; api knows all
#: below it; the package's top-level modules (``__init__``, ``testing``) may import anything.
ALLOWED = {
    "compute": {"compute"},
    "runtime": {"runtime"},
    "results": {"results", "compute"},
    "widgets": {"widgets", "compute", "runtime", "results"},
    "api": {"api", "compute", "runtime", "results", "widgets"},
    "top": {"top", "api", "compute", "runtime", "results", "widgets"},
}


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for f in root.rglob("*.py"):
        name = ".".join(f.relative_to(root.parent).with_suffix("").parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out[name] = f
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    mods = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        pkg = m if f.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(f.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [base] + [base + "." + a.name for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != m and not m.startswith(t + "."):
                    graph[m].add(t)
    return graph


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "top"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every back edge of a depth-first search, as the cycle it closes (0 exactly when the graph is acyclic)."""
    seen: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        seen.add(v)
        stack.append(v)
        for w in sorted(graph[v]):
            if w in stack:
                found.append(stack[stack.index(w):] + [w])
            elif w not in seen:
                visit(w)
        stack.pop()

    for v in sorted(graph):
        if v not in seen:
            visit(v)
    return found


def back_arrows(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a room to one it may not import (see ALLOWED)."""
    return sorted((m, t) for m, ts in graph.items() for t in ts if room(t) not in ALLOWED[room(m)])


def main() -> int:
    root = Path(__file__).resolve().parents[1] / "fxwidgets"
    graph = import_graph(root)
    cyc, back = cycles(graph), back_arrows(graph)
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports, {len(cyc)} cycles, {len(back)} back-arrows")
    for c in cyc:
        print("cycle:", " -> ".join(c))
    for a, b in back:
        print(f"back-arrow: {a} ({room(a)}) imports {b} ({room(b)})")
    return 1 if cyc or back else 0


if __name__ == "__main__":
    sys.exit(main())
