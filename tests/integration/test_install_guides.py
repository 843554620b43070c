"""The install guides cannot drift from the code (docs/install-moodle.md, docs/install-canvas.md).

- every tool address in them (``https://wom.example.org/...`` or a bare ``/lti/...`` path) is one
  ``wordofmouth urls`` prints for ``WOM_BASE_URL=https://wom.example.org`` (pages under the
  operator console count as the console's), and the printed list they show is the real output;
- every ``wordofmouth ...`` command in them exists and parses (``--help`` exits 0, and its options
  and arguments are accepted by click without running it);
- every refusal quoted in backticks in a Troubleshooting table is one the code can produce: some
  string in the source (an f-string's fields standing for any text) matches it whole;
- the Canvas guide's custom field, scope and privacy level are the ones ``/lti/config/canvas.json``
  serves.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo

from lti.canvas_config import ToolUrls, canvas_configuration
from plugin.app import create_app
from plugin.cli import main

ROOT = Path(__file__).resolve().parents[2]
GUIDES = [ROOT / "docs" / "install-moodle.md", ROOT / "docs" / "install-canvas.md"]
BASE = "https://wom.example.org"
SOURCE_DIRS = ("lti", "plugin", "widgets", "xapi")

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
TOOL_URL = re.compile(re.escape(BASE) + r"[^\s`'\")\]<>|,;*]*")


@pytest.fixture
def guide_app(app_config: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("WOM_BASE_URL", BASE)
    app = create_app({**app_config, "WOM_BASE_URL": BASE})
    yield app
    app.extensions["wordofmouth.engine"].dispose()


def run(app: Flask, *args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))


def printed_urls(app: Flask) -> list[str]:
    result = run(app, "urls")
    assert result.exit_code == 0, result.output
    return [line.rstrip() for line in result.stdout.splitlines() if line.strip()]


def guide_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def code_blocks(text: str) -> list[str]:
    return [block for block in FENCE.findall(text)]


def table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|") and not set(line) <= set("|- "):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def commands(text: str) -> list[str]:
    """``wordofmouth ...`` lines of code blocks (continuations joined) and inline spans."""
    found = []
    for block in code_blocks(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        found += [line.strip() for line in joined.splitlines() if line.strip().startswith("wordofmouth ")]
    found += [span for span in INLINE.findall(text) if span.startswith("wordofmouth ")]
    return found


# -- addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_the_printed_list_in_the_guide_is_what_wordofmouth_urls_prints(guide_app: Flask, guide: Path) -> None:
    blocks = code_blocks(guide_text(guide))
    command_at = next(i for i, block in enumerate(blocks) if block.strip() == "wordofmouth urls")
    shown = [line.rstrip() for line in blocks[command_at + 1].splitlines() if line.strip()]
    assert shown == printed_urls(guide_app)


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_tool_address_in_the_guide_is_one_wordofmouth_urls_prints(guide_app: Flask, guide: Path) -> None:
    printed = {line.split()[-1] for line in printed_urls(guide_app)}
    console = next(url for url in printed if urlsplit(url).path.rstrip("/") == "/admin")
    text = guide_text(guide)
    addresses = {url.rstrip(".:") for url in TOOL_URL.findall(text)}
    assert len(addresses) >= 5, addresses
    for url in addresses:
        parts = urlsplit(url)
        bare = f"{parts.scheme}://{parts.netloc}{parts.path}"
        if bare in (BASE, BASE + "/"):  # the home page, which lists them
            continue
        assert bare in printed or bare.startswith(console), f"{guide.name}: {url} is not printed by `wordofmouth urls`"
    paths = {urlsplit(url).path for url in printed}
    for span in INLINE.findall(text):
        if span.startswith(("/lti/", "/admin", "/healthz")):
            assert span in paths or span.startswith(urlsplit(console).path), f"{guide.name}: {span}"


def test_the_registration_url_the_guides_show_is_the_one_the_command_makes(guide_app: Flask) -> None:
    result = run(guide_app, "registration-url", "--expires", "24h")
    assert result.exit_code == 0, result.output
    made = result.stdout.strip().splitlines()[0]
    shown = BASE + "/lti/register?wom_token=…"
    assert made.startswith(shown.removesuffix("…")), made
    for guide in GUIDES:
        assert f"`{shown}`" in guide_text(guide), guide.name


# -- commands --------------------------------------------------------------------------------


def _command_path(ctx: click.Context, args: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """The subcommand names, the command they lead to, and the arguments left for it.

    ``ctx`` must be closed by the caller: Flask's group pushes an app context on it to find the
    adapters' commands, and a context left open would make later tests' commands use this app.
    """
    command: click.Command = main
    path: list[str] = []
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"`wordofmouth {' '.join(path + rest[:1])}` is not a command"
        path.append(rest.pop(0))
        command = sub
    return path, command, rest


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_command_in_the_guide_exists_and_parses(guide_app: Flask, guide: Path) -> None:
    found = commands(guide_text(guide))
    assert len(found) >= 6, found
    for line in found:
        args = shlex.split(line)[1:]
        with click.Context(main, info_name="wordofmouth", obj=ScriptInfo(create_app=lambda: guide_app)) as ctx:
            path, command, rest = _command_path(ctx, args)
            try:
                command.make_context(path[-1] if path else "wordofmouth", rest, parent=ctx).close()
            except click.ClickException as exc:
                pytest.fail(f"{guide.name}: `{line}` does not parse: {exc.format_message()}")
        helped = run(guide_app, *path, "--help")
        assert helped.exit_code == 0, f"{line}: {helped.output}"


def test_no_app_context_is_left_behind(guide_app: Flask) -> None:
    from flask import current_app

    with click.Context(main, info_name="wordofmouth", obj=ScriptInfo(create_app=lambda: guide_app)) as ctx:
        _command_path(ctx, ["platform", "list"])
    run(guide_app, "urls")
    assert not current_app


# -- refusals --------------------------------------------------------------------------------


def _pattern(node: ast.AST) -> str | None:
    """A regular expression for the strings ``node`` can be (f-string fields: any text)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        parts = [_pattern(v) if isinstance(v, ast.Constant) else "(.+?)" for v in node.values]
        return "".join(p for p in parts if p is not None)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _pattern(node.left), _pattern(node.right)
        return left + right if left is not None and right is not None else None
    return None


def source_patterns() -> list[re.Pattern[str]]:
    patterns = set()
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                    pattern = _pattern(node)
                    if pattern and len(pattern.replace("(.+?)", "")) >= 12:  # words, not only fields
                        patterns.add(pattern)
        for path in (ROOT / folder).rglob("*.html"):
            for quoted in re.findall(r"_\(\s*'((?:[^'\\]|\\.)*)'|_\(\s*\"((?:[^\"\\]|\\.)*)\"", path.read_text()):
                text = next(q for q in quoted if q)
                patterns.add(re.sub(r"%\\\(\w+\\\)s", "(.+?)", re.escape(text)))
    return [re.compile(p, re.S) for p in patterns]


def quoted_refusals(text: str) -> list[str]:
    """Backticked symptoms in the first column of the Troubleshooting section's table."""
    section = text.split("## Troubleshooting", 1)[1]
    rows = table_rows(section)[1:]  # below the header
    return [span for row in rows for span in INLINE.findall(row[0])]


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_refusal_the_troubleshooting_table_quotes_is_one_the_code_gives(guide: Path) -> None:
    refusals = quoted_refusals(guide_text(guide))
    assert len(refusals) >= 10, refusals
    patterns = source_patterns()
    missing = [r for r in refusals if not any(p.fullmatch(r) for p in patterns)]
    assert missing == [], f"{guide.name} quotes refusals the code does not give: {missing}"


def test_the_refusal_check_would_catch_a_reworded_message() -> None:
    patterns = source_patterns()
    assert any(p.fullmatch("the id_token has expired") for p in patterns)
    assert not any(p.fullmatch("the id_token is too old") for p in patterns)
    assert any(p.fullmatch("client id 'x' is not registered for issuer https://moodle.example.org") for p in patterns)


# -- the Canvas configuration ----------------------------------------------------------------


def test_the_canvas_guide_says_what_the_canvas_json_asks_for() -> None:
    served = canvas_configuration(ToolUrls(login=BASE + "/lti/login", launch=BASE + "/lti/launch", jwks="x"))
    text = guide_text(GUIDES[1])
    for name, value in served["custom_fields"].items():
        assert f"`{name}={value}`" in text and f"\n{name}={value}\n" in text
    for scope in served["scopes"]:
        assert f"`{scope}`" in text
    assert f"(`{served['extensions'][0]['privacy_level']}`)" in text
    for placement in served["extensions"][0]["settings"]["placements"]:
        title = placement["placement"].replace("_", " ").title()
        assert f"**{title}** (`" in text or f"**{title}**" in text, title


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_relative_link_in_the_guide_leads_somewhere(guide: Path) -> None:
    text = guide_text(guide)
    for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", text):
        assert (guide.parent / target).exists(), f"{guide.name} links to {target}, which does not exist"
    for anchor in re.findall(r"\]\(lti\.md#([^)]+)\)", text):
        headings = re.findall(r"^#+ (.+)$", (guide.parent / "lti.md").read_text(encoding="utf-8"), re.M)
        slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
        assert anchor in slugs, f"{guide.name} links to lti.md#{anchor}, which has no such heading"
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        headings = re.findall(r"^#+ (.+)$", text, re.M)
        slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
        assert anchor in slugs, f"{guide.name} links to #{anchor}, which has no such heading"
