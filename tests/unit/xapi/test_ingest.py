"""The pull's pure parts: course IRIs back to context ids, which statements count, and the cursor."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from xapi import ingest
from xapi import vocabulary as v
from xapi.ingest import (
    NOTHING_SAFE,
    LrsReader,
    LrsReadError,
    Page,
    Stamp,
    context_id_of,
    cursor_after,
    default_pattern,
    format_time,
    item_id_of,
    parse_time,
    read_stream,
    stream_limit,
    template_pattern,
    took,
)
from xapi.lrs import Lrs
from xapi.statements import fill_template

MOODLE = "{issuer}/course/view.php?id={context_id}"
ISSUER = "https://lms.example"

# --- course IRIs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        MOODLE,
        "{issuer}/courses/{context_id}/home",
        "https://catalogue.example/course/{context_id}",
        "{issuer}/c/{context_id}?copy={context_id}",
        "{issuer}/course.php?x=(1)&id={context_id}",
    ],
)
@pytest.mark.parametrize(
    "context_id", ["5", "course-v1:edX+DemoX+2024", "a b/c?d#e&f", "Übung 3", "%41", "_123_1", "x" * 255]
)
def test_a_template_pattern_gives_back_the_context_id_fill_template_wrote(template: str, context_id: str) -> None:
    pattern = template_pattern(template, ISSUER)
    assert context_id_of(fill_template(template, ISSUER, context_id), pattern) == context_id


def test_the_issuer_is_matched_with_or_without_its_trailing_slash() -> None:
    iri = "https://lms.example/course/view.php?id=7"
    assert context_id_of(iri, template_pattern(MOODLE, "https://lms.example/")) == "7"
    assert context_id_of(iri, template_pattern(MOODLE, "https://lms.example")) == "7"
    assert fill_template(MOODLE, "https://lms.example/", "7") == iri


def test_an_lms_may_write_the_context_id_unencoded() -> None:
    pattern = template_pattern("{issuer}/courses/{context_id}/home", ISSUER)
    assert context_id_of("https://lms.example/courses/course-v1:edX+DemoX+2024/home", pattern) == (
        "course-v1:edX+DemoX+2024"
    )


@pytest.mark.parametrize(
    "iri",
    [
        "https://other.example/course/view.php?id=7",  # another issuer
        "https://lms.example/course/view.php?id=7&section=2",  # something after the id
        "https://lms.example/course/view.php?id=7#top",
        "https://lms.example/course/view.php?id=",  # no id
        "https://lms.example/course/view.php?id=a/b",  # a path where the id goes
        "https://lms.example/mod/page/view.php?id=7",  # a page of the course, not the course
        "prefix https://lms.example/course/view.php?id=7",
        "https://lms.example/course/view.php?id=7 ",
        "https://lms.example/course/viewXphp?id=7",  # the template's "." is a dot, not any character
        "HTTPS://LMS.EXAMPLE/course/view.php?id=7",
    ],
)
def test_iris_that_are_not_the_platforms_course_iris_do_not_match(iri: str) -> None:
    assert context_id_of(iri, template_pattern(MOODLE, ISSUER)) is None


def test_regex_characters_in_the_issuer_are_literal() -> None:
    pattern = template_pattern(MOODLE, "https://lms.example/moodle+(test)")
    assert context_id_of("https://lms.example/moodle+(test)/course/view.php?id=3", pattern) == "3"
    assert context_id_of("https://lms.example/moodleee(test)/course/view.php?id=3", pattern) is None


def test_a_repeated_context_id_must_be_the_same_both_times() -> None:
    pattern = template_pattern("{issuer}/c/{context_id}?copy={context_id}", ISSUER)
    assert context_id_of("https://lms.example/c/5?copy=5", pattern) == "5"
    assert context_id_of("https://lms.example/c/5?copy=6", pattern) is None


def test_a_template_without_a_context_id_matches_nothing() -> None:
    assert template_pattern("{issuer}/course", ISSUER) is None
    assert template_pattern("", ISSUER) is None
    assert context_id_of("https://lms.example/course", None) is None


def test_a_context_id_longer_than_an_item_key_is_no_course_of_ours() -> None:
    pattern = template_pattern(MOODLE, ISSUER)
    assert context_id_of(fill_template(MOODLE, ISSUER, "x" * 256), pattern) is None


def test_our_own_default_iris_give_the_item_id() -> None:
    pattern = default_pattern("https://tool.example/")
    assert item_id_of("https://tool.example/xapi/activities/course/42", pattern) == 42
    assert item_id_of("https://tool.example/xapi/activities/course/042", pattern) is None
    assert item_id_of("https://tool.example/xapi/activities/course/42/x", pattern) is None
    assert item_id_of("https://other.example/xapi/activities/course/42", pattern) is None
    assert item_id_of("https://tool.example/xapi/activities/review/42", pattern) is None


# --- which statements count ----------------------------------------------------------------------------------

LMS_STATEMENT: dict[str, Any] = {
    "id": "7c3b6a3e-3d0e-4a52-9d53-6f1f1f0e2a10",
    "actor": {
        "objectType": "Agent",
        "name": "Ada Lovelace",
        "account": {"homePage": "https://lms.example/", "name": "7"},
    },
    "verb": {"id": v.COMPLETED.iri, "display": {"en": "completed"}},
    "object": {"objectType": "Activity", "id": "https://lms.example/course/view.php?id=101"},
    "context": {"platform": "Moodle"},
    "timestamp": "2026-03-02T09:00:00.000Z",
    "stored": "2026-03-02T09:00:05.000Z",
}


def changed(**parts: Any) -> dict[str, Any]:
    statement = copy.deepcopy(LMS_STATEMENT)
    for path, value in parts.items():
        *parents, last = path.split("__")
        node = statement
        for name in parents:
            node = node[name]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return statement


DELETE = object()


def test_a_completed_statement_by_an_lms_account_says_who_took_which_course() -> None:
    fact = took(LMS_STATEMENT)
    assert fact is not None
    assert fact.home_page == "https://lms.example"
    assert fact.sub == "7"
    assert fact.actor_name == "Ada Lovelace"
    assert fact.activity_id == "https://lms.example/course/view.php?id=101"
    assert fact.at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_launched_counts_too_and_defaults_are_understood() -> None:
    fact = took(changed(verb__id=v.LAUNCHED.iri, actor__objectType=DELETE, object__objectType=DELETE, context=DELETE))
    assert fact is not None
    assert fact.actor_name == "Ada Lovelace"


def test_the_time_is_the_timestamp_but_never_later_than_stored() -> None:
    assert took(changed(timestamp="2026-03-02T11:00:00+02:00")).at == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert took(changed(timestamp="2027-01-01T00:00:00Z")).at == datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)
    assert took(changed(timestamp=DELETE)).at == datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)
    assert took(changed(timestamp="yesterday")).at == datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "statement",
    [
        changed(verb__id="http://adlnet.gov/expapi/verbs/experienced"),
        changed(verb__id=v.VOIDED.iri, object={"objectType": "StatementRef", "id": LMS_STATEMENT["id"]}),
        changed(verb=DELETE),
        changed(verb="completed"),
        changed(context__platform=v.PLATFORM_NAME),  # our own statement
        changed(context="Moodle"),
        changed(actor={"objectType": "Agent", "mbox": "mailto:ada@example.org"}),
        changed(actor__objectType="Group"),
        changed(actor__account__homePage=""),
        changed(actor__account__name=" "),
        changed(actor__account__name=7),
        changed(actor__account__name="x" * 256),
        changed(actor__account="https://lms.example"),
        changed(actor=DELETE),
        changed(object={"objectType": "Agent", "mbox": "mailto:b@example.org"}),
        changed(object={"objectType": "StatementRef", "id": LMS_STATEMENT["id"]}),
        changed(object__id=DELETE),
        changed(object__id=""),
        changed(object=[]),
        changed(stored=DELETE),
        changed(stored="2026-03-02T09:00:05"),  # no time zone
        changed(stored="soon"),
        None,
        "completed",
        [LMS_STATEMENT],
    ],
)
def test_anything_else_does_not_count_and_never_raises(statement: object) -> None:
    assert took(statement) is None


# --- timestamps and the cursor -------------------------------------------------------------------------------


def s(text: str) -> Stamp:
    found = ingest.stamp(text)
    assert found is not None
    return found


def test_timestamps_are_read_with_any_zone_and_written_as_lrss_write_stored() -> None:
    assert parse_time("2026-03-02T09:00:00Z") == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert parse_time("2026-03-02T10:00:00.123456789+01:00") == datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
    for bad in (None, "", "2026-03-02", "2026-03-02T09:00:00", "garbage", 1700000000, "2026-03-02T09:00:00Z" * 4):
        assert parse_time(bad) is None
    assert format_time(datetime(2026, 3, 2, 9, 0, 0, 123999, tzinfo=UTC)) == "2026-03-02T09:00:00.123Z"
    assert format_time(datetime(2026, 3, 2, 10, 0, tzinfo=ingest.UTC).astimezone()) == "2026-03-02T10:00:00.000Z"


def test_a_stream_read_to_its_end_is_safe_until_just_before_consistent_through() -> None:
    stored = [s("2026-03-02T09:00:00.100Z"), s("2026-03-02T09:00:00.200Z")]
    through = s("2026-03-02T09:05:00.000Z")
    limit = stream_limit(stored, complete=True, clean=False, consistent_through=through)
    assert limit == s("2026-03-02T09:04:59.999Z")
    assert limit.text == "2026-03-02T09:04:59.999Z"
    # Nothing read: the header alone moves the cursor; without it the stream sets no limit.
    assert stream_limit([], complete=True, clean=False, consistent_through=through) == limit
    assert stream_limit([], complete=True, clean=False, consistent_through=None) is None
    assert stream_limit(stored, complete=True, clean=False, consistent_through=None) == stored[-1]


def test_a_stream_cut_at_a_page_limit_is_safe_through_its_last_statement_but_never_after_the_header() -> None:
    stored = [s("2026-03-02T09:00:00.100Z"), s("2026-03-02T09:00:00.200Z")]
    later = s("2026-03-02T09:05:00.000Z")
    assert stream_limit(stored, complete=False, clean=True, consistent_through=later).text == stored[-1].text
    earlier = s("2026-03-02T09:00:00.150Z")  # statements stored after the first answer showed up on later pages
    assert stream_limit(stored, complete=False, clean=True, consistent_through=earlier) == s("2026-03-02T09:00:00.149Z")


def test_a_stream_cut_by_an_error_stays_before_its_last_instant() -> None:
    stored = [s("2026-03-02T09:00:00.100Z"), s("2026-03-02T09:00:00.200Z"), s("2026-03-02T09:00:00.200Z")]
    assert stream_limit(stored, complete=False, clean=False, consistent_through=None) == stored[0]
    same = [s("2026-03-02T09:00:00.200Z")] * 3
    assert stream_limit(same, complete=False, clean=False, consistent_through=None) is NOTHING_SAFE
    assert stream_limit([], complete=False, clean=False, consistent_through=None) is NOTHING_SAFE


def test_the_cursor_takes_the_earliest_limit_and_only_moves_forward() -> None:
    old = "2026-03-02T09:00:00.000Z"
    a, b = s("2026-03-02T09:00:01.000Z"), s("2026-03-02T09:00:02.000Z")
    assert cursor_after(old, [b, None, a]) == a.text
    assert cursor_after(None, [a]) == a.text
    assert cursor_after(old, [None, None]) == old
    assert cursor_after(None, []) is None
    assert cursor_after(old, [a, NOTHING_SAFE]) == old
    assert cursor_after(None, [NOTHING_SAFE]) is None
    assert cursor_after(old, [s("2026-03-02T08:00:00.000Z")]) == old  # never back
    assert cursor_after(old, [s("2026-03-02T09:00:00.000Z")]) == old
    assert cursor_after("not a time", [a]) == a.text


# --- reading pages (a scripted LRS) --------------------------------------------------------------------------


class ScriptedLrs:
    """Pages by URL, as an LrsReader would get them; an Exception in place of a page is raised."""

    def __init__(self, pages: list[Page | LrsReadError]) -> None:
        self.pages = pages
        self.urls: list[str] = []
        self.real = LrsReader(Lrs("https://lrs.example/xAPI/"))

    def first_url(self, verb: str, since: str | None, limit: int) -> str:
        return self.real.first_url(verb, since, limit)

    def more_url(self, more: str) -> str:
        return self.real.more_url(more)

    def page(self, url: str) -> Page:
        self.urls.append(url)
        answer = self.pages[len(self.urls) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def at(ms: int) -> str:
    return format_time(T0 + timedelta(milliseconds=ms))


def statements(*stored_ms: int) -> list[Mapping[str, Any]]:
    return [changed(stored=at(ms)) for ms in stored_ms]


def page(*stored_ms: int, more: str = "", through: int | None = 10_000) -> Page:
    return Page(statements(*stored_ms), more, s(at(through)) if through is not None else None)


def test_more_links_are_followed_on_the_lrs_origin_to_the_end() -> None:
    lrs = ScriptedLrs([page(1, 2, more="/xAPI/statements?c=1"), page(3, 4, more="/xAPI/statements?c=2"), page(5)])
    read = read_stream(lrs, v.COMPLETED.iri, at(0), page_size=2, max_pages=25)  # type: ignore[arg-type]
    assert len(read.statements) == 5
    assert read.pages == 3
    assert read.error is None
    assert lrs.urls[0] == (
        "https://lrs.example/xAPI/statements?verb=http%3A%2F%2Fadlnet.gov%2Fexpapi%2Fverbs%2Fcompleted"
        "&ascending=true&limit=2&since=2026-03-02T09%3A00%3A00.000Z"
    )
    assert lrs.urls[1:] == ["https://lrs.example/xAPI/statements?c=1", "https://lrs.example/xAPI/statements?c=2"]
    assert read.limit == s(at(9_999))  # read to its end: just before the first answer's consistent-through


def test_a_run_stops_at_its_page_limit_where_the_stored_time_changes() -> None:
    lrs = ScriptedLrs([page(1, 2, more="/m1"), page(2, 2, more="/m2"), page(2, 3, more="/m3"), page(9)])
    read = read_stream(lrs, v.COMPLETED.iri, None, page_size=2, max_pages=1)  # type: ignore[arg-type]
    # Page one ends at instant 2; pages two and three finish that instant; the statement at 3 waits.
    assert [st["stored"] for st in read.statements] == [at(1), at(2), at(2), at(2), at(2)]
    assert read.pages == 3
    assert read.limit == s(at(2))


def test_an_endless_instant_is_passed_with_a_note_rather_than_stalling_for_ever() -> None:
    lrs = ScriptedLrs([page(5, 5, more="/m1"), page(5, 5, more="/m2"), page(5, 5, more="/m3")])
    read = read_stream(lrs, v.COMPLETED.iri, None, page_size=2, max_pages=1, tie_pages=2)  # type: ignore[arg-type]
    assert read.pages == 3
    assert read.limit == s(at(5))
    assert read.note is not None and at(5) in read.note


def test_an_error_midway_keeps_what_was_read_but_not_its_last_instant() -> None:
    lrs = ScriptedLrs([page(1, 2, more="/m1"), page(2, 2, more="/m2"), LrsReadError("503 Service Unavailable")])
    read = read_stream(lrs, v.COMPLETED.iri, None, page_size=2, max_pages=10)  # type: ignore[arg-type]
    assert len(read.statements) == 4
    assert read.error == "503 Service Unavailable"
    assert read.limit == s(at(1))


def test_an_error_at_once_holds_the_cursor() -> None:
    read = read_stream(ScriptedLrs([LrsReadError("refused")]), v.COMPLETED.iri, None, 2, 10)  # type: ignore[arg-type]
    assert read.statements == []
    assert read.limit is NOTHING_SAFE


def test_statements_stored_after_the_first_answer_are_read_again_next_time() -> None:
    lrs = ScriptedLrs([page(1, 2, more="/m1", through=2), page(3, 4, through=5)])
    read = read_stream(lrs, v.COMPLETED.iri, None, 2, 10)  # type: ignore[arg-type]
    assert len(read.statements) == 4
    assert read.limit == s(at(1))  # the first answer vouched for everything before instant 2 only


def test_a_page_without_stored_times_or_the_header_still_reads() -> None:
    odd = Page([{"verb": {"id": v.COMPLETED.iri}}, "junk", *statements(3)], "", None)
    read = read_stream(ScriptedLrs([odd]), v.COMPLETED.iri, None, 2, 10)  # type: ignore[arg-type]
    assert [st["stored"] for st in read.statements] == [at(3)]
    assert read.limit == s(at(3))


def test_more_links_to_another_origin_are_not_followed() -> None:
    reader = LrsReader(Lrs("https://lrs.example/xAPI/", "user", "secret"))
    assert reader.more_url("/xAPI/statements?cursor=1") == "https://lrs.example/xAPI/statements?cursor=1"
    assert reader.more_url("statements?cursor=1") == "https://lrs.example/statements?cursor=1"
    with pytest.raises(LrsReadError, match="another origin"):
        reader.more_url("https://evil.example/xAPI/statements?cursor=1")
    with pytest.raises(LrsReadError, match="another origin"):
        reader.more_url("//evil.example/xAPI/statements")
    lrs = ScriptedLrs([page(1, more="https://evil.example/more")])
    read = read_stream(lrs, v.COMPLETED.iri, None, 2, 10)  # type: ignore[arg-type]
    assert read.error is not None and "another origin" in read.error
    assert len(lrs.urls) == 1
