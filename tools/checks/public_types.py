"""No ``Any`` for samplings and coarsenings in public signatures (``hatch run dev:types``).

mypy (``disallow_untyped_defs``) makes every public function annotated, but ``Any`` is
an annotation too. sphere-graphs publishes ``Sampling`` (and its subclasses) and
``Coarsening``; a public function or method of any package whose parameter is named
like one of them (``sampling``, ``source``, ``target``, ``fine``, ``coarse``,
``coarsening``, ``coarsenings``, ``levels``) must not be annotated ``Any`` (alone, in a
union or in a container). Run: ``python tools/checks/public_types.py``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"sampling", "source", "target", "fine", "coarse", "coarsening", "coarsenings", "levels"}


def _mentions_any(node: ast.expr | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return False
    return any(
        (isinstance(n, ast.Name) and n.id == "Any")
        or (isinstance(n, ast.Attribute) and n.attr == "Any")
        for n in ast.walk(node)
    )


def exported(package_src: Path) -> set[str]:
    """Every name listed in the ``__all__`` of a public module (the package's API)."""
    names: set[str] = set()
    for path in package_src.rglob("*.py"):
        if _private_module(path.relative_to(package_src)):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
                and isinstance(node.value, ast.List | ast.Tuple)
            ):
                names |= {
                    e.value
                    for e in node.value.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                }
    return names


def _private_module(path: Path) -> bool:
    return any(p.startswith("_") and p != "__init__.py" for p in path.parts)


def violations(path: Path, public: set[str]) -> Iterator[tuple[int, str]]:
    """``(line, description)`` of every public parameter of those names typed ``Any``.

    In a private module (``_x.py``) only the classes and functions named in an
    ``__all__`` of the package count as public.
    """
    private = _private_module(path.relative_to(ROOT))
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    scopes: list[tuple[ast.AST, str]] = [(tree, "")]
    while scopes:
        scope, prefix = scopes.pop()
        for node in ast.iter_child_nodes(scope):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                if private and not prefix and node.name not in public:
                    continue
                scopes.append((node, f"{prefix}{node.name}."))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("_") and node.name != "__init__":
                    continue
                if private and not prefix and node.name not in public:
                    continue
                args = node.args
                for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                    if arg.arg in NAMES and _mentions_any(arg.annotation):
                        yield node.lineno, f"{prefix}{node.name}({arg.arg}: ... Any ...)"


def main() -> int:
    """Print every violation; exit status 1 if there is one."""
    found = 0
    for src in sorted(ROOT.glob("packages/*/src")):
        public = exported(src)
        for path in sorted(src.rglob("*.py")):
            for line, what in violations(path, public):
                found += 1
                print(f"{path.relative_to(ROOT)}:{line}: {what}")
    if found:
        print(
            f"{found} public parameter(s) typed Any where sphere_graphs.Sampling / "
            "Coarsening (or a union with them) is meant"
        )
        return 1
    print("public types: no Any for samplings and coarsenings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
