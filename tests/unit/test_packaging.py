"""Our four top-level packages must come from our distribution and no other.

PyPI has distributions that install modules named ``lti`` and ``xapi``; if one were installed
beside us, Python would import whichever came first and we would run someone else's code.
"""

import importlib
import importlib.metadata
from pathlib import Path

import pytest

OUR_PACKAGES = ("plugin", "lti", "xapi", "widgets")
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", OUR_PACKAGES)
def test_top_level_name_is_provided_only_by_wordofmouth(name: str) -> None:
    providers = set(importlib.metadata.packages_distributions().get(name, []))
    assert providers == {"wordofmouth"}, f"{name!r} is provided by {sorted(providers)}"


@pytest.mark.parametrize("name", OUR_PACKAGES)
def test_top_level_name_imports_from_this_checkout(name: str) -> None:
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().parent == REPO_ROOT / name


def test_console_script_is_declared() -> None:
    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("wordofmouth") == "plugin.cli:main"
