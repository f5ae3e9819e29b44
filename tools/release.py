"""Release one package of the workspace: version bump, CHANGELOG section, build, check, tag.

Usage (from the repository root)::

    python tools/release.py sphere-graphs --bump patch            # 0.1.0 -> 0.1.1
    python tools/release.py cheb-conv --version 0.2.0
    python tools/release.py sphere-pool                           # release the current version
    python tools/release.py --all --dry-run --test-sdist          # what CI runs

Steps, in order:

1. the target version: the current ``__version__`` of ``src/<module>/__init__.py``,
   or ``--bump major|minor|patch``, or ``--version X.Y.Z``;
2. the CHANGELOG section: the first ``## `` heading of the package's CHANGELOG.md must be
   ``## Unreleased`` or ``## <target> (unreleased)`` with at least one entry; it becomes
   ``## <target> (<today>)``;
3. ``__version__`` set to the target;
4. ``hatch build`` of the sdist and the wheel;
5. checks of both artifacts: ``twine check --strict``, the licence file, complete
   metadata (authors, project URLs, classifiers), no file in the wheel other than the
   module's ``.py`` files and ``py.typed``, README links that still work on the package
   index (absolute or none), and with ``--test-sdist`` the sdist's own tests run
   standalone from the unpacked sdist;
6. a commit of the two edited files and the annotated tag ``<package>-v<version>``.

``--dry-run`` performs steps 1-5 on a temporary copy of the package and only prints
the commit and tag it would make; nothing in the checkout changes. Uploading is left
to the maintainer: the script prints the ``twine upload`` command for the checked
artifacts.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["sphere-graphs", "cheb-conv", "sphere-pool", "sphere-unet", "climate-seg"]
_VERSION_RE = re.compile(r'^__version__ = "(\d+)\.(\d+)\.(\d+)"$', re.MULTILINE)
_LINK_RE = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<img[^>]*\ssrc=\"([^\"]+)\"")
_ABSOLUTE = ("https://", "http://", "mailto:", "#")
REQUIRED_URLS = ("Homepage", "Documentation", "Source", "Changelog")


class ReleaseError(RuntimeError):
    """A check failed; the message says what to fix."""


def module_name(package: str) -> str:
    """Import name of a distribution of this workspace (``sphere-graphs`` -> ``sphere_graphs``)."""
    return package.replace("-", "_")


def read_version(pkg_dir: Path) -> tuple[int, int, int]:
    """The ``__version__`` of the package in ``pkg_dir`` as a tuple of three integers."""
    init = pkg_dir / "src" / module_name(pkg_dir.name) / "__init__.py"
    match = _VERSION_RE.search(init.read_text(encoding="utf-8"))
    if match is None:
        raise ReleaseError(f'{init}: no line `__version__ = "X.Y.Z"`; add one')
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def target_version(current: tuple[int, int, int], bump: str | None, version: str | None) -> str:
    """The version to release: ``version``, or ``current`` bumped by ``bump``, or ``current``."""
    if version is not None:
        if not re.fullmatch(r"\d+\.\d+\.\d+", version):
            raise ReleaseError(f"--version {version!r} is not of the form X.Y.Z")
        return version
    major, minor, patch = current
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    if bump == "patch":
        return f"{major}.{minor}.{patch + 1}"
    return f"{major}.{minor}.{patch}"


def set_version(pkg_dir: Path, version: str) -> Path:
    """Write ``version`` into ``src/<module>/__init__.py``; returns that file."""
    init = pkg_dir / "src" / module_name(pkg_dir.name) / "__init__.py"
    text = init.read_text(encoding="utf-8")
    init.write_text(_VERSION_RE.sub(f'__version__ = "{version}"', text, count=1), encoding="utf-8")
    return init


def date_changelog(pkg_dir: Path, version: str, today: str) -> Path:
    """Turn the CHANGELOG's unreleased section into ``## <version> (<today>)``."""
    path = pkg_dir / "CHANGELOG.md"
    if not path.is_file():
        raise ReleaseError(f"{path} is missing; every package keeps a CHANGELOG.md")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    heads = [i for i, line in enumerate(lines) if line.startswith("## ")]
    if not heads:
        raise ReleaseError(
            f"{path}: no `## ` section; add `## {version} (unreleased)` with entries"
        )
    first = heads[0]
    title = lines[first][3:].strip()
    if title.lower() not in ("unreleased", f"{version} (unreleased)"):
        raise ReleaseError(
            f"{path}: the first section is `## {title}`; releasing {version} needs a first "
            f"section `## Unreleased` or `## {version} (unreleased)` listing the changes"
        )
    end = heads[1] if len(heads) > 1 else len(lines)
    if not any(line.strip() for line in lines[first + 1 : end]):
        raise ReleaseError(f"{path}: the section `## {title}` is empty; list the changes")
    lines[first] = f"## {version} ({today})\n"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def build(pkg_dir: Path, out: Path) -> tuple[Path, Path]:
    """``hatch build`` the sdist and the wheel of ``pkg_dir`` into ``out``."""
    hatch = shutil.which("hatch")
    if hatch is None:
        raise ReleaseError("`hatch` is not on PATH; install it (pip install hatch)")
    out.mkdir(parents=True, exist_ok=True)
    # inside `hatch run <env>:...` HATCH_ENV_ACTIVE names the workspace's environment,
    # which the package's own project does not have; HATCH_ENV_TYPE_VIRTUAL_PATH (CI)
    # would make the build environment the caller's
    drop = {"HATCH_ENV_ACTIVE", "HATCH_ENV_TYPE_VIRTUAL_PATH"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    subprocess.run(
        [hatch, "build", "-t", "sdist", "-t", "wheel", str(out)], cwd=pkg_dir, env=env, check=True
    )
    sdists = sorted(out.glob("*.tar.gz"))
    wheels = sorted(out.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise ReleaseError(f"expected one sdist and one wheel in {out}, found {sdists + wheels}")
    return sdists[0], wheels[0]


def check_readme_links(text: str, where: str) -> None:
    """Relative links break on the package index: require absolute links (or anchors)."""
    bad = [a or b for a, b in _LINK_RE.findall(text) if not (a or b).startswith(_ABSOLUTE)]
    if bad:
        raise ReleaseError(
            f"{where}: relative links {bad} break once the README is rendered on the package "
            "index; use absolute https://github.com/... links (or none)"
        )


def check_metadata(meta_text: str, package: str, version: str) -> None:
    """Name, version, licence, authors, URLs and classifiers of a METADATA / PKG-INFO file."""
    meta = Parser().parsestr(meta_text)
    problems = []
    if meta["Name"] != package or meta["Version"] != version:
        problems.append(f"name/version {meta['Name']} {meta['Version']} != {package} {version}")
    if meta["License-Expression"] != "BSD-3-Clause":
        problems.append("License-Expression is not BSD-3-Clause")
    if "LICENSE" not in (meta.get_all("License-File") or []):
        problems.append("no License-File: LICENSE")
    if not (meta["Author"] or meta["Author-email"]):
        problems.append("no authors")
    urls = {u.split(",", 1)[0].strip() for u in meta.get_all("Project-URL") or []}
    problems += [f"no project URL {u!r}" for u in REQUIRED_URLS if u not in urls]
    classifiers = meta.get_all("Classifier") or []
    if not any(c.startswith("Development Status ::") for c in classifiers):
        problems.append("no `Development Status` classifier")
    if not any(re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c) for c in classifiers):
        problems.append("no classifier for the supported Python versions")
    body = str(meta.get_payload())
    if meta["Description-Content-Type"] != "text/markdown" or not body.strip():
        problems.append("no Markdown long description (readme)")
    else:
        check_readme_links(body, f"{package} long description")
    if problems:
        raise ReleaseError(f"{package} metadata: " + "; ".join(problems) + " (see pyproject.toml)")


def check_wheel(wheel: Path, package: str, version: str) -> None:
    """Licence and metadata present; nothing but ``.py`` files and ``py.typed`` in the module."""
    mod = module_name(package)
    info = f"{mod}-{version}.dist-info/"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        if f"{info}licenses/LICENSE" not in names:
            raise ReleaseError(f"{wheel.name}: no {info}licenses/LICENSE")
        if b"BSD 3-Clause" not in zf.read(f"{info}licenses/LICENSE"):
            raise ReleaseError(f"{wheel.name}: the LICENSE is not the BSD 3-Clause text")
        check_metadata(zf.read(f"{info}METADATA").decode(), package, version)
    stray = [
        n
        for n in names
        if not n.startswith(info)
        and not (n.startswith(f"{mod}/") and (n.endswith(".py") or n.endswith("/py.typed")))
        and not n.startswith(f"{mod}/configs/")  # package data: climate-seg's example configs
    ]
    if stray:
        raise ReleaseError(
            f"{wheel.name}: unexpected files {stray}; remove them from src/ or exclude them "
            "in [tool.hatch.build.targets.wheel]"
        )


def check_sdist(sdist: Path, package: str, version: str) -> None:
    """Licence, README, CHANGELOG, sources and tests present; no caches."""
    top = f"{module_name(package)}-{version}/"
    with tarfile.open(sdist) as tf:
        names = tf.getnames()
        pkg_info = tf.extractfile(f"{top}PKG-INFO")
        assert pkg_info is not None
        check_metadata(pkg_info.read().decode(), package, version)
    for need in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "src/", "tests/"):
        if not any(n == top + need.rstrip("/") or n.startswith(top + need) for n in names):
            raise ReleaseError(f"{sdist.name}: {need} is missing")
    stray = [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".whl", ".tar.gz"))]
    if stray:
        raise ReleaseError(f"{sdist.name}: unexpected files {stray}")


def twine_check(*artifacts: Path) -> None:
    """``twine check --strict`` (renders the README as the index will)."""
    subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, artifacts)], check=True
    )


def run_sdist_tests(sdist: Path, workdir: Path) -> None:
    """Run the sdist's tests from the unpacked sdist alone (its ``src/`` first on the path).

    The interpreter is this one: it must have the package's dependencies and ``test``
    extra installed (the workspace's ``dev`` environment has them).
    """
    with tarfile.open(sdist) as tf:
        tf.extractall(workdir, filter="data")
    (root,) = [p for p in workdir.iterdir() if p.is_dir()]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-ra", "tests"]
    if _have_xdist():
        cmd += ["-n", "2"]
    print("+", " ".join(cmd), f"(in {root})", flush=True)
    subprocess.run(cmd, cwd=root, env=env, check=True)


def _have_xdist() -> bool:
    return importlib.util.find_spec("xdist") is not None


def git(*args: str) -> str:
    """Run git in the repository root and return its output."""
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def release(package: str, args: argparse.Namespace) -> list[Path]:
    """Steps 1-6 for one package (steps 1-5 on a temporary copy with ``--dry-run``)."""
    src_dir = ROOT / "packages" / package
    if not src_dir.is_dir():
        raise ReleaseError(f"unknown package {package!r}; choose from {', '.join(PACKAGES)}")
    version = target_version(read_version(src_dir), args.bump, args.version)
    tag = f"{package}-v{version}"
    today = args.date or _dt.date.today().isoformat()
    print(f"== {package} {version} (tag {tag}){' [dry run]' if args.dry_run else ''}", flush=True)
    if not args.dry_run:
        if git("tag", "--list", tag).strip():
            raise ReleaseError(f"tag {tag} exists already; bump the version")
        if git("status", "--porcelain", "--", str(src_dir)).strip():
            raise ReleaseError(f"{src_dir} has uncommitted changes; commit them first")
    tmp = Path(tempfile.mkdtemp(prefix=f"release-{package}-"))
    try:
        if args.dry_run:
            pkg_dir = tmp / package
            shutil.copytree(
                src_dir, pkg_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "dist")
            )
        else:
            pkg_dir = src_dir
        changelog = date_changelog(pkg_dir, version, today)
        init = set_version(pkg_dir, version)
        out = Path(args.outdir).resolve() / package if args.outdir else tmp / "dist"
        if out.exists():
            shutil.rmtree(out)
        sdist, wheel = build(pkg_dir, out)
        twine_check(sdist, wheel)
        check_wheel(wheel, package, version)
        check_sdist(sdist, package, version)
        if args.test_sdist:
            run_sdist_tests(sdist, tmp / "sdist")
        if args.dry_run:
            edited = [str(p.relative_to(pkg_dir.parent)) for p in (changelog, init)]
            print(f"would commit packages/{edited} as 'release {tag}' and tag {tag}")
        else:
            git("commit", "-m", f"release {tag}", "--", str(changelog), str(init))
            git("tag", "-a", tag, "-m", f"{package} {version}")
            print(f"committed and tagged {tag}; push with: git push origin main {tag}")
        print(f"checked: {sdist.name}, {wheel.name}")
        if args.outdir:
            print(f"upload with: twine upload {sdist} {wheel}")
        return [sdist, wheel]
    finally:
        if not args.keep_temp:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", help=f"one or more of {', '.join(PACKAGES)}")
    parser.add_argument("--all", action="store_true", help="every package of the workspace")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--bump", choices=["major", "minor", "patch"], help="bump the version")
    group.add_argument("--version", help="release this version X.Y.Z")
    parser.add_argument("--dry-run", action="store_true", help="work on a copy, change nothing")
    parser.add_argument("--test-sdist", action="store_true", help="run the sdist's tests")
    parser.add_argument("--outdir", help="keep the artifacts in OUTDIR/<package>/")
    parser.add_argument("--date", help="release date for the CHANGELOG (default: today)")
    parser.add_argument("--keep-temp", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    packages = PACKAGES if args.all else args.packages
    if not packages:
        parser.error("name a package or pass --all")
    if len(packages) > 1 and args.version:
        parser.error("--version applies to one package; use --bump with several")
    failed = []
    for package in packages:  # every package, so that CI reports all failures at once
        try:
            release(package, args)
        except (ReleaseError, subprocess.CalledProcessError) as exc:
            print(f"release of {package} failed: {exc}", file=sys.stderr, flush=True)
            failed.append(package)
            if not args.dry_run:
                break  # a real release stops at the first failure
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
