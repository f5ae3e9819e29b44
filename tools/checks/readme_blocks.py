"""Every code block of every README is executed or checked (``hatch run dev:readme``).

Run with ``python -m pytest tools/checks/readme_blocks.py`` (not collected by
``hatch test``: the file name does not start with ``test_``). It collects the fenced
code blocks of ``README.md`` and ``packages/*/README.md``:

- ``python`` blocks run in order, one namespace per README (a block may use the names
  of the blocks above it, as a reader would), in an empty temporary directory;
- ``bash`` / ``console`` / ``sh`` blocks are commands to type: each ``pip install X``
  must name a workspace package (and extras it defines), each ``python tools/...``
  script must exist and answer ``--help``, each ``climate-seg <command>`` must exist
  (``--help``); other lines (``hatch ...``, comments) are not run here, CI runs them.

A UserWarning raised by a Python block fails it (README examples are ordinary use,
which must not warn).

A block preceded by the HTML comment ``<!-- readme-check: skip: <reason> -->`` is
reported as skipped with that reason (for a snippet that needs data a reader brings).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", *sorted((ROOT / "packages").glob("*/README.md"))]
_FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_SKIP = re.compile(r"<!--\s*readme-check:\s*skip:\s*(.*?)\s*-->\s*$")
SHELL = {"bash", "sh", "console", "shell"}
PYTHON = {"python", "py"}


@dataclass
class Block:
    """One fenced code block of a README."""

    readme: Path
    index: int
    line: int
    lang: str
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.readme.relative_to(ROOT)}:{self.line}:{self.lang or 'text'}"


def blocks(readme: Path) -> list[Block]:
    """The fenced code blocks of ``readme``, in order."""
    text = readme.read_text(encoding="utf-8")
    found = []
    for i, m in enumerate(_FENCE.finditer(text)):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = _SKIP.search(before)
        line = text.count("\n", 0, m.start()) + 1
        found.append(Block(readme, i, line, m.group(1).lower(), m.group(2), skip and skip[1]))
    return found


ALL = [b for r in READMES for b in blocks(r) if b.lang in PYTHON | SHELL]
_NAMESPACES: dict[Path, dict[str, Any]] = {}


def _workspace_extras() -> dict[str, set[str]]:
    extras = {}
    for pp in (ROOT / "packages").glob("*/pyproject.toml"):
        project = tomllib.loads(pp.read_text(encoding="utf-8"))["project"]
        extras[project["name"]] = set(project.get("optional-dependencies", {}))
    return extras


def _run_help(cmd: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [*cmd, "--help"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, f"`{' '.join(cmd)} --help` failed:\n{proc.stderr[-2000:]}"


def check_shell(block: Block) -> None:
    """Check the commands of a shell block without running them."""
    extras = _workspace_extras()
    for raw in block.code.splitlines():
        line = raw.split(" #", 1)[0].strip().removeprefix("$ ").strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        if words[:2] == ["pip", "install"] or words[:4] == ["python", "-m", "pip", "install"]:
            for req in (w for w in words[2:] if not w.startswith("-") and w != "install"):
                m = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[([\w,\s-]+)\])?(?:[<>=!~].*)?", req)
                assert m, f"cannot parse requirement {req!r}"
                name, wanted = m[1], m[2]
                if name in ("torch", "hatch", "twine"):
                    continue
                assert name in extras, f"`pip install {req}`: {name} is not a workspace package"
                missing = {e.strip() for e in (wanted or "").split(",") if e.strip()} - extras[name]
                assert not missing, f"`pip install {req}`: {name} has no extra(s) {missing}"
        elif words[0] == "python" and len(words) > 1 and words[1].startswith("tools/"):
            assert (ROOT / words[1]).is_file(), f"{words[1]} does not exist"
            _run_help([sys.executable, words[1]])
        elif words[0] == "climate-seg" and len(words) > 1 and not words[1].startswith("-"):
            _run_help([sys.executable, "-m", "climate_seg.cli", words[1]])


@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("block", ALL, ids=[b.id for b in ALL])
def test_readme_block(block: Block, tmp_path_factory: pytest.TempPathFactory) -> None:
    if block.skip:
        pytest.skip(f"marked in the README: {block.skip}")
    if block.lang in SHELL:
        check_shell(block)
        return
    namespace = _NAMESPACES.setdefault(block.readme, {"__name__": "__readme__"})
    workdir = namespace.setdefault("__workdir__", tmp_path_factory.mktemp("readme"))
    cwd = Path.cwd()
    os.chdir(workdir)
    try:
        code = compile(block.code, f"{block.id}", "exec")
        exec(code, namespace)
    finally:
        os.chdir(cwd)
