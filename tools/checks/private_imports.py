"""No package imports another package's private modules or names (src, tests, tools, docs).

import-linter (``[tool.importlinter]`` in the root pyproject.toml) checks the direction
of the dependencies between the packages' ``src/``; this check covers what it cannot:
``pkg._private`` used from outside ``packages/<pkg>/``, in any Python file of the
repository (sources, tests, tools, docs and gallery examples).

Flagged, for ``pkg`` one of the workspace's modules, in a file outside ``pkg``'s folder:

- ``import pkg._x`` / ``from pkg._x import y`` / ``from pkg.sub._x import y``;
- ``from pkg import _x`` (a private name of a public module);
- ``pkg._x`` / ``alias._x`` attribute access on an imported workspace module.

Dunder names (``__version__``) are public. Run: ``python tools/checks/private_imports.py``
(exit status 1 and one line per use when something is found).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "sphere_graphs": "sphere-graphs",
    "cheb_conv": "cheb-conv",
    "sphere_pool": "sphere-pool",
    "sphere_unet": "sphere-unet",
    "climate_seg": "climate-seg",
}
SKIP_DIRS = {".git", ".venv", "__pycache__", "_build", "build", "dist", "node_modules"}


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def owner(path: Path) -> str | None:
    """The workspace module whose folder holds ``path`` (``None`` outside ``packages/``)."""
    rel = path.relative_to(ROOT).parts
    if len(rel) > 1 and rel[0] == "packages":
        for module, folder in PACKAGES.items():
            if rel[1] == folder:
                return module
    return None


def violations(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, description)`` for every private use of another package in ``path``."""
    mine = owner(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases: dict[str, str] = {}  # local name -> workspace module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in PACKAGES:
                    if parts[0] != mine and any(_private(p) for p in parts[1:]):
                        yield node.lineno, f"import {alias.name}"
                    local = alias.asname or parts[0]
                    aliases[local] = alias.name if alias.asname else parts[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] not in PACKAGES or parts[0] == mine:
                continue
            if any(_private(p) for p in parts[1:]):
                yield node.lineno, f"from {node.module} import ..."
            else:
                for alias in node.names:
                    if _private(alias.name):
                        yield node.lineno, f"from {node.module} import {alias.name}"
                    else:
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
        ):
            target = aliases[node.value.id]
            if target.split(".")[0] != mine:
                yield node.lineno, f"{node.value.id}.{node.attr} ({target}.{node.attr})"


def python_files(root: Path) -> Iterator[Path]:
    """Every ``.py`` file of the repository outside caches and build folders."""
    for path in sorted(root.rglob("*.py")):
        if not SKIP_DIRS.intersection(path.relative_to(root).parts):
            yield path


def main() -> int:
    """Print every violation; exit status 1 if there is one."""
    found = 0
    for path in python_files(ROOT):
        for line, what in violations(path):
            found += 1
            print(f"{path.relative_to(ROOT)}:{line}: private use across packages: {what}")
    if found:
        print(
            f"{found} private use(s) across packages: use the public names re-exported in "
            "the package's __init__.py (ask its owner to export what is missing)"
        )
        return 1
    print("private imports: none across packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
