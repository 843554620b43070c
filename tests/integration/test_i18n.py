"""Languages: the launch's locale picks German or French, and every text has its translation.

The first half drives real launches (``launch_presentation.locale``) and reads the page, the
widget fragments and problem details in that language. The second half checks the committed
catalogues against the texts in the sources: if it fails, run ``make translations`` and
translate what it lists (README, "Languages").
"""

from __future__ import annotations

import gettext
import inspect
import io
import re
from pathlib import Path

import pytest
import requests
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from plugin.services import comments, moderation, ratings
from tests.integration.lti import conftest as lti_fixtures
from tests.integration.lti.conftest import Tool
from tests.support.lti_platform import LTI, LmsPlatform

# The running tool, the test LMS and the learner's browser (tests/integration/lti/conftest.py).
tool = lti_fixtures.tool
lms = lti_fixtures.lms

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "plugin" / "translations"
LANGUAGES = ("de", "fr")


# -- the learner's language -------------------------------------------------------------------
def launch(lms: LmsPlatform, tool: Tool, locale: str, sub: str = "user-1") -> tuple[str, str]:
    """A learner's launch in ``locale``: the page and its widget token."""
    with requests.Session() as browser:
        response = lms.launch(
            browser,
            tool.url,
            claims={"sub": sub, LTI + "launch_presentation": {"locale": locale, "document_target": "iframe"}},
        )
    assert response.status_code == 200, response.text
    match = re.search(r'data-token="([^"]+)"', response.text)
    assert match, response.text
    return response.text, match.group(1)


def api(tool: Tool, method: str, path: str, token: str, **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.request(method, tool.url + path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def ratings_fragment(tool: Tool, token: str) -> str:
    response = api(tool, "GET", "/api/v1/fragments/ratings", token)
    assert response.status_code == 200, response.text
    return response.text


LANGUAGE_CASES = {
    "de-DE": {
        "lang": "de",
        "page": ["angemeldet als Ada Lovelace", "Wird geladen", "Word of Mouth benötigt JavaScript."],
        "empty": ["Bewertungen und Rezensionen", "Ihre Bewertung", "Noch keine Bewertungen.", "Bewertung speichern"],
        "one": "1 Bewertung<",
        "two": "2 Bewertungen<",
        "average": r"\d,\d von 5",
        "date": r"<time datetime=\"[^\"]+\">\d{2}\.\d{2}\.\d{4}</time>",
    },
    "fr-CA": {
        "lang": "fr",
        "page": ["connecté en tant que Ada Lovelace", "Chargement…", "Word of Mouth nécessite JavaScript."],
        "empty": ["Notes et avis", "Votre note", "Donnez la première.", "Enregistrer la note"],
        "one": "1 note<",
        "two": "2 notes<",
        "average": r"\d,\d sur 5",
        "date": r"<time datetime=\"[^\"]+\">\d{1,2} [a-zéû]+\.? \d{4}</time>",
    },
}


@pytest.mark.parametrize("locale", LANGUAGE_CASES)
def test_launch_locale_translates_page_fragments_plurals_numbers_and_dates(
    tool: Tool, lms: LmsPlatform, locale: str
) -> None:
    case = LANGUAGE_CASES[locale]
    page, token = launch(lms, tool, locale)
    assert f'lang="{case["lang"]}"' in page
    for text in case["page"]:
        assert text in page
    assert "signed in as" not in page

    html = ratings_fragment(tool, token)
    for text in case["empty"]:
        assert text in html, text
    assert "Your rating" not in html

    assert api(tool, "PUT", "/api/v1/ratings/mine", token, json={"stars": 4, "review": "Klar und hilfreich."}).ok
    html = ratings_fragment(tool, token)
    assert case["one"] in html
    assert re.search(case["date"], html), html

    _, other = launch(lms, tool, locale, sub="user-2")
    assert api(tool, "PUT", "/api/v1/ratings/mine", other, json={"stars": 5}).ok
    html = ratings_fragment(tool, token)
    assert case["two"] in html
    assert re.search(case["average"], html), html


def test_unsupported_locale_falls_back_to_english(tool: Tool, lms: LmsPlatform) -> None:
    page, token = launch(lms, tool, "ja-JP")
    assert 'lang="en"' in page
    assert "signed in as Ada Lovelace" in page
    html = ratings_fragment(tool, token)
    assert "Your rating" in html
    assert "No ratings yet. Be the first to rate it." in html


def test_problem_details_come_back_in_the_learners_language(tool: Tool, lms: LmsPlatform) -> None:
    _, token = launch(lms, tool, "de-DE")

    refused = api(tool, "POST", "/api/v1/comments", token, json={"body": "   "})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["detail"] == "Schreiben Sie etwas, bevor Sie absenden."
    for messages in problem.get("errors", {}).values():  # the per-field messages, when given, too
        assert messages == ["Schreiben Sie etwas, bevor Sie absenden."]

    missing = api(tool, "PUT", "/api/v1/reviews/999999/helpful", token)
    assert missing.status_code == 404, missing.text
    assert missing.json()["detail"] == "Diese Rezension gibt es hier nicht. Möglicherweise wurde sie entfernt."

    _, english = launch(lms, tool, "en-GB", sub="user-2")
    assert api(tool, "POST", "/api/v1/comments", english, json={"body": "   "}).json()["detail"] == (
        "Write something before posting."
    )


# -- the catalogues ---------------------------------------------------------------------------
def _babel_keywords() -> dict:  # type: ignore[type-arg]
    """The extraction keywords: Babel's defaults and the Makefile's ``BABEL_KEYWORDS`` (one source)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    definition = re.search(r"^BABEL_KEYWORDS\s*:?=(.*)$", makefile, re.MULTILINE)
    assert definition, "Makefile: BABEL_KEYWORDS is gone"
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(parse_keywords(re.findall(r"-k\s+(\S+)", definition.group(1))))
    return keywords


def _source_messages() -> dict[str, str]:
    """Every msgid babel.cfg finds in the sources now, with where it is."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=_babel_keywords()
    ):
        msgid = message[0] if isinstance(message, tuple | list) else message
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def source_messages() -> dict[str, str]:
    return _source_messages()


def _catalog(language: str) -> Catalog:
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def test_extraction_finds_the_templates_and_the_services_messages(source_messages: dict[str, str]) -> None:
    assert "Your rating" in source_messages  # a template
    assert "%(num)d rating" in source_messages  # ngettext
    assert "Write something before posting." in source_messages  # InvalidFieldError(field, "...")
    assert "There is no such review here. It may have been removed." in source_messages  # NotFoundError
    assert "Your session expired. Reload the page to continue." in source_messages  # lti/tokens.py


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str, source_messages: dict[str, str]) -> None:
    catalog = _catalog(language)
    untranslated = []
    for msgid, where in sorted(source_messages.items()):
        message = catalog.get(msgid)
        strings = (message.string if isinstance(message.string, tuple | list) else [message.string]) if message else []
        if message is None or message.fuzzy or not strings or not all(strings):
            untranslated.append(f"{msgid!r} ({where})")
    assert not untranslated, (
        f"{len(untranslated)} message(s) without a {language} translation; run `make translations` and translate "
        f"them in plugin/translations/{language}/LC_MESSAGES/messages.po:\n  " + "\n  ".join(untranslated)
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_placeholders_and_plural_forms(language: str) -> None:
    catalog = _catalog(language)
    problems = [f"{message.id!r}: {'; '.join(map(str, errors))}" for message, errors in catalog.check()]
    for message in catalog:
        if message.id and message.pluralizable and len(message.string) != catalog.num_plurals:
            problems.append(f"{message.id!r}: {len(message.string)} plural forms, {catalog.num_plurals} expected")
    assert not problems, f"{language}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_committed_mo_matches_its_po(language: str) -> None:
    """The .mo the app loads is the compiled .po: same messages, same translations."""
    compiled = io.BytesIO()
    write_mo(compiled, _catalog(language))
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        committed = gettext.GNUTranslations(mo)
    want = {k: v for k, v in expected._catalog.items() if k != ""}  # type: ignore[attr-defined]
    have = {k: v for k, v in committed._catalog.items() if k != ""}  # type: ignore[attr-defined]
    stale = sorted(
        (repr(k) for k in want.keys() | have.keys() if want.get(k) != have.get(k)),
    )
    assert not stale, (
        f"plugin/translations/{language}/LC_MESSAGES/messages.mo is older than its .po; run `make translations` "
        f"(or pybabel compile). Differences:\n  " + "\n  ".join(stale)
    )
    assert committed.info().get("plural-forms") == expected.info().get("plural-forms")


def test_constant_messages_name_the_current_limits_and_choices() -> None:
    """A few service messages spell out a constant so they can be translated; keep them in step."""
    from plugin.models.social import COMMENT_MAX_LENGTH, REASON_MAX_LENGTH, REVIEW_MAX_LENGTH

    assert f"A comment can be at most {COMMENT_MAX_LENGTH} characters long." in inspect.getsource(comments)
    assert f"A review can be at most {REVIEW_MAX_LENGTH} characters long." in inspect.getsource(ratings)
    assert f"A reason can be at most {REASON_MAX_LENGTH} characters long." in inspect.getsource(moderation)
    assert f"Order by one of: {', '.join(comments.ORDERS)}." in inspect.getsource(comments)
    assert f"Sort by one of: {', '.join(ratings.REVIEW_SORTS)}." in inspect.getsource(ratings)
