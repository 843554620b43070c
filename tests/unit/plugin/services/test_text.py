"""clean_text: learner text as stored, plain and tidy, never escaped."""

import pytest

from plugin.services.text import clean_text


@pytest.mark.parametrize("value", [None, "", " ", "\n\n", " \r\n\t \r ", "\x00\x07\x1b", "\u0085\u009b"])
def test_nothing_worth_keeping_is_none(value: str | None) -> None:
    assert clean_text(value) is None


def test_plain_text_is_kept_as_typed() -> None:
    assert clean_text("Great course!") == "Great course!"


def test_html_is_not_escaped_or_stripped() -> None:
    assert clean_text("<b>bold</b> & <script>x()</script> \"q\" 'a'") == (
        "<b>bold</b> & <script>x()</script> \"q\" 'a'"
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("a\r\nb", "a\nb"), ("a\rb", "a\nb"), ("a\r\r\nb", "a\n\nb"), ("a\nb", "a\nb")],
)
def test_line_endings_become_newlines(typed: str, stored: str) -> None:
    assert clean_text(typed) == stored


def test_text_is_trimmed_at_both_ends() -> None:
    assert clean_text("  \n\n  hello  \n\n ") == "hello"


def test_trailing_spaces_of_each_line_go_but_indentation_inside_stays() -> None:
    assert clean_text("first   \n    indented\t\nlast") == "first\n    indented\nlast"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("a\n\n\nb", "a\n\nb"),
        ("a\n\n\n\n\n\nb", "a\n\nb"),
        ("a\n  \n\t\n \nb", "a\n\nb"),
        ("a\r\n\r\n\r\n\r\nb", "a\n\nb"),
        ("a\n\nb", "a\n\nb"),
    ],
)
def test_at_most_one_blank_line_in_a_row(typed: str, stored: str) -> None:
    assert clean_text(typed) == stored


def test_c0_control_characters_are_removed_but_tabs_and_newlines_stay() -> None:
    assert clean_text("a\x00b\x01c\x08d\x0be\x0cf\x0eg\x1bh\x1fi\x7fj\tk\nl") == "abcdefghij\tk\nl"


def test_c1_control_characters_are_removed() -> None:
    # U+0080..U+009F are control characters too; U+009B is an 8-bit terminal escape (CSI).
    assert clean_text("a\u0080b\u0085c\u009b31md\u009fe") == "abc31mde"


def test_lone_surrogates_are_removed_so_the_text_can_be_stored_as_utf8() -> None:
    cleaned = clean_text("a\ud800b\udfffc")
    assert cleaned == "abc"
    cleaned.encode("utf-8")


def test_unicode_is_normalised_to_nfc() -> None:
    assert clean_text("Cafe\u0301") == "Caf\u00e9"


def test_other_unicode_is_kept() -> None:
    assert clean_text("Très bien 👍 — 良い") == "Très bien 👍 — 良い"
