"""Every package the code imports is declared, with a tested range, and CI installs pinned versions.

Issue 9, item 16: ``jwt``, ``jwcrypto``, ``cryptography`` and ``itsdangerous`` were imported but not
declared (they came in through other packages, at whatever version those allowed). Here each
top-level import of the shipped packages is mapped to its distribution (importlib.metadata) and
looked up in ``setup.cfg``; each declared range must hold the installed, tested version and stop
below the next major; ``constraints.txt`` must pin every declared package inside its range.
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
import sys
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("plugin", "lti", "xapi", "widgets", "migrations")


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(REPO_ROOT / "setup.cfg", encoding="utf-8")
    return parser


def _requirements(value: str) -> list[Requirement]:
    return [Requirement(line.strip()) for line in value.splitlines() if line.strip() and not line.startswith("#")]


@cache
def install_requires() -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in _requirements(_setup_cfg()["options"]["install_requires"])}


@cache
def extras() -> dict[str, Requirement]:
    found: dict[str, Requirement] = {}
    for value in _setup_cfg()["options.extras_require"].values():
        found.update({canonicalize_name(r.name): r for r in _requirements(value)})
    return found


@cache
def top_level_imports() -> dict[str, list[str]]:
    """Top-level module names imported by the shipped packages (absolute imports), with where."""
    found: dict[str, list[str]] = {}
    for package in SHIPPED:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in SHIPPED and top != "__future__":
                        found.setdefault(top, []).append(str(path.relative_to(REPO_ROOT)))
    return found


def test_the_scan_sees_the_imports_that_were_missing() -> None:
    assert {"jwt", "jwcrypto", "cryptography", "itsdangerous", "flask", "sqlalchemy"} <= set(top_level_imports())


@cache
def distributions_of() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@pytest.mark.parametrize("module", sorted(top_level_imports()))
def test_every_imported_package_is_declared(module: str) -> None:
    distributions = distributions_of().get(module)
    where = top_level_imports()[module][0]
    assert distributions, f"{module} (imported in {where}) is not installed by any distribution"
    declared = {canonicalize_name(d) for d in distributions} & set(install_requires())
    assert declared, (
        f"{module} is imported (e.g. in {top_level_imports()[module][0]}) but its distribution "
        f"{'/'.join(distributions)} is not in setup.cfg's install_requires"
    )


@pytest.mark.parametrize("name", sorted({**install_requires(), **extras()}))
def test_each_declared_range_holds_the_tested_version_and_stops_below_the_next_major(name: str) -> None:
    requirement = {**install_requires(), **extras()}[name]
    installed = Version(importlib.metadata.version(name))
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"setup.cfg says {requirement} but the tests run with {name} {installed}"
    )
    uppers = [Version(s.version) for s in requirement.specifier if s.operator in ("<", "<=", "~=")]
    if name in install_requires():
        assert uppers, f"{requirement} has no upper bound: a new major version could break installs"
    next_major = Version(f"{installed.major + 1}") if installed.major else Version(f"0.{installed.minor + 1}")
    for upper in uppers:
        assert upper <= next_major, f"{requirement} allows versions past the next major of the tested {installed}"


PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*$")


@cache
def constraints() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"constraints.txt: {line!r} is not a plain name==version pin"
        pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def test_constraints_leave_out_the_project_itself() -> None:
    assert "wordofmouth" not in constraints()


@pytest.mark.parametrize("name", sorted({**install_requires(), **extras()}))
def test_constraints_pin_every_declared_package_inside_its_range(name: str) -> None:
    requirement = {**install_requires(), **extras()}[name]
    assert name in constraints(), f"constraints.txt pins no version of {name}: regenerate it (make constraints)"
    assert requirement.specifier.contains(constraints()[name], prereleases=True), (
        f"constraints.txt pins {name}=={constraints()[name]}, outside setup.cfg's {requirement}"
    )


def test_ci_installs_with_the_constraints() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    installs = [line for line in makefile.splitlines() if "pip install" in line and "-e ." in line.replace("'", "")]
    assert installs, "the Makefile installs the project somewhere"
    assert all("-c constraints.txt" in line for line in installs), installs
