"""The widget API and fragments through real launches and real HTTP, the way the iframe uses them.

Each learner or instructor is launched by the test LMS (OIDC login, signed id_token, launch); the
bearer token on the launched page is what every later call carries.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
import requests

from plugin.models.social import REVIEW_MAX_LENGTH
from plugin.services.insights import CSV_HEADER
from tests.integration.lti import conftest as lti_fixtures
from tests.integration.lti.conftest import Tool
from tests.support.lti_platform import INSTRUCTOR, LEARNER, LTI, LmsPlatform

PROBLEM_JSON = "application/problem+json"


tool = lti_fixtures.tool  # the app served over HTTP on loopback
lms = lti_fixtures.lms  # a registered test platform


@pytest.fixture
def app_config(app_config: dict[str, str]) -> dict[str, str]:
    """Write limits off: these flows write more than a learner would in a minute."""
    return {**app_config, "WOM_RATE_LIMIT_WRITES": "off"}


class Api:
    """One launched learner's (or instructor's) widget client: the bearer token and ``/api/v1``."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self.http.request(method, self.base + "/api/v1" + path, timeout=10, **kwargs)
        assert response.status_code < 500, response.text
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PUT", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None


def launch(
    tool: Tool,
    platform: LmsPlatform,
    sub: str,
    *,
    name: str | None = None,
    staff: bool = False,
    course: str = "course-1",
    link: str = "resource-link-1",
    settings: dict[str, Any] | None = None,
) -> Api:
    """Launch ``sub`` into ``course`` through ``link`` and return their widget client."""
    custom = {"wom_settings": json.dumps(settings)} if settings is not None else {}
    claims = {
        "sub": sub,
        "name": name or sub.title(),
        "email": f"{sub}@example.org",
        LTI + "roles": [INSTRUCTOR if staff else LEARNER],
        LTI + "context": {"id": course, "title": f"Course {course}", "label": course.upper()},
        LTI + "resource_link": {"id": link, "title": "Course reviews"},
        LTI + "custom": custom,
    }
    with requests.Session() as browser:
        response = platform.launch(browser, tool.url, claims=claims)
    assert response.status_code == 200, response.text
    match = re.search(r'data-token="([^"]+)"', response.text)
    assert match, response.text
    return Api(tool.url, match.group(1))


def problem(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    return body


def all_comments(page: dict[str, Any]) -> list[dict[str, Any]]:
    """Every comment of a page, pinned and replies included."""
    tops = page["pinned"] + page["comments"]
    return tops + [reply for top in tops for reply in top["replies"]]


def find(page: dict[str, Any], comment_id: int) -> dict[str, Any] | None:
    return next((c for c in all_comments(page) if c["id"] == comment_id), None)


# -- ratings and reviews ----------------------------------------------------------------------
def test_rate_change_and_remove(tool: Tool, lms: LmsPlatform) -> None:
    ada = launch(tool, lms, "ada")
    first = ada.ok("PUT", "/ratings/mine", json={"stars": 4, "review": "Clear and practical."})
    assert (first["count"], first["average"], first["mine"]["stars"]) == (1, 4.0, 4)
    assert first["mine"]["review"] == "Clear and practical."
    assert first["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}

    changed = ada.ok("PUT", "/ratings/mine", json={"stars": 2, "review": "Second thoughts."})
    assert (changed["count"], changed["average"], changed["mine"]["stars"]) == (1, 2.0, 2)
    assert changed["mine"]["review"] == "Second thoughts."
    reviews = ada.ok("GET", "/reviews")
    assert [(r["stars"], r["review"], r["mine"]) for r in reviews["reviews"]] == [(2, "Second thoughts.", True)]

    removed = ada.ok("DELETE", "/ratings/mine")
    assert (removed["count"], removed["average"], removed["mine"]) == (0, None, None)
    assert ada.ok("GET", "/reviews")["total"] == 0
    assert ada.ok("GET", "/ratings")["mine"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stars": 5, "review": "x" * (REVIEW_MAX_LENGTH + 1)}, "review"),
        ({"stars": 0}, "stars"),
        ({"stars": 6}, "stars"),
        ({"stars": "5"}, "stars"),
        ({"stars": True}, "stars"),
        ({"review": "no stars"}, "stars"),
    ],
)
def test_invalid_ratings_are_422_naming_the_field(
    tool: Tool, lms: LmsPlatform, body: dict[str, Any], field: str
) -> None:
    ada = launch(tool, lms, "ada")
    refused = problem(ada.put("/ratings/mine", json=body), 422)
    assert list(refused["errors"]) == [field]
    assert refused["errors"][field] and all(isinstance(m, str) for m in refused["errors"][field])
    assert ada.ok("GET", "/ratings")["count"] == 0


def test_reviews_turned_off_by_the_placement_refuse_review_text(tool: Tool, lms: LmsPlatform) -> None:
    ada = launch(tool, lms, "ada", link="no-reviews", settings={"ratings.reviews": False})
    assert ada.ok("GET", "/ratings")["reviews_allowed"] is False
    refused = problem(ada.put("/ratings/mine", json={"stars": 4, "review": "Let me write anyway"}), 422)
    assert list(refused["errors"]) == ["review"]
    saved = ada.ok("PUT", "/ratings/mine", json={"stars": 4})
    assert (saved["count"], saved["mine"]["review"]) == (1, None)
    assert ada.ok("GET", "/reviews")["total"] == 0


def test_helpful_votes_are_idempotent_and_never_on_your_own_review(tool: Tool, lms: LmsPlatform) -> None:
    ada, bob, cy = (launch(tool, lms, sub) for sub in ("ada", "bob", "cy"))
    ada.ok("PUT", "/ratings/mine", json={"stars": 5, "review": "Worth it."})
    (review,) = bob.ok("GET", "/reviews")["reviews"]
    assert (review["mine"], review["voted_helpful"], review["helpful_count"]) == (False, False, 0)
    assert review["author"] == {"name": "Ada"}
    assert "hidden_reason" not in review and "open_reports" not in review  # staff-only fields

    assert bob.ok("PUT", f"/reviews/{review['id']}/helpful") == {
        "id": review["id"],
        "helpful_count": 1,
        "voted_helpful": True,
    }
    assert bob.ok("PUT", f"/reviews/{review['id']}/helpful")["helpful_count"] == 1
    assert cy.ok("PUT", f"/reviews/{review['id']}/helpful")["helpful_count"] == 2
    problem(ada.put(f"/reviews/{review['id']}/helpful"), 409)
    (seen,) = bob.ok("GET", "/reviews")["reviews"]
    assert (seen["voted_helpful"], seen["helpful_count"]) == (True, 2)

    assert bob.ok("DELETE", f"/reviews/{review['id']}/helpful") == {
        "id": review["id"],
        "helpful_count": 1,
        "voted_helpful": False,
    }
    assert bob.ok("DELETE", f"/reviews/{review['id']}/helpful")["helpful_count"] == 1
    problem(bob.put("/reviews/999999/helpful"), 404)


def test_reporting_a_review_reaches_the_moderation_queue(tool: Tool, lms: LmsPlatform) -> None:
    ada, bob = launch(tool, lms, "ada"), launch(tool, lms, "bob")
    teacher = launch(tool, lms, "teacher", staff=True)
    ada.ok("PUT", "/ratings/mine", json={"stars": 1, "review": "Rubbish."})
    (review,) = bob.ok("GET", "/reviews")["reviews"]
    report = bob.ok("POST", f"/reviews/{review['id']}/reports", 201, json={"reason": "Not helpful, just rude"})
    assert set(report) == {"id", "created_at"}
    problem(ada.post(f"/reviews/{review['id']}/reports", json={}), 409)
    problem(bob.post(f"/reviews/{review['id']}/reports", json={"reason": "r" * 501}), 422)

    (entry,) = teacher.ok("GET", "/moderation/queue")["entries"]
    assert (entry["kind"], entry["id"], entry["text"], entry["reports"]) == ("review", review["id"], "Rubbish.", 1)
    assert entry["reasons"] == ["Not helpful, just rude"]
    (staff_view,) = teacher.ok("GET", "/reviews")["reviews"]
    assert staff_view["open_reports"] == 1

    teacher.ok("POST", "/moderation/dismiss", 204, json={"kind": "review", "id": review["id"]})
    assert teacher.ok("GET", "/moderation/queue")["entries"] == []


def test_instructor_hides_and_unhides_a_review(tool: Tool, lms: LmsPlatform) -> None:
    ada, bob = launch(tool, lms, "ada"), launch(tool, lms, "bob")
    teacher = launch(tool, lms, "teacher", staff=True)
    ada.ok("PUT", "/ratings/mine", json={"stars": 2, "review": "Off-topic rant."})
    (review,) = bob.ok("GET", "/reviews")["reviews"]
    problem(teacher.post(f"/reviews/{review['id']}/hide", json={"reason": ""}), 422)
    hidden = teacher.ok("POST", f"/reviews/{review['id']}/hide", json={"reason": "Off topic"})
    assert (hidden["hidden"], hidden["hidden_reason"]) == (True, "Off topic")

    assert bob.ok("GET", "/reviews")["total"] == 0
    problem(bob.put(f"/reviews/{review['id']}/helpful"), 404)
    assert bob.ok("GET", "/ratings")["count"] == 1  # the stars still count
    assert ada.ok("GET", "/ratings")["mine"]["review_hidden"] is True
    assert teacher.ok("GET", "/reviews")["reviews"][0]["hidden_reason"] == "Off topic"

    shown = teacher.ok("POST", f"/reviews/{review['id']}/unhide")
    assert (shown["hidden"], shown["hidden_reason"]) == (False, None)
    assert [r["id"] for r in bob.ok("GET", "/reviews")["reviews"]] == [review["id"]]


# -- comments ---------------------------------------------------------------------------------
def test_comment_reply_edit_and_delete(tool: Tool, lms: LmsPlatform) -> None:
    ada, bob = launch(tool, lms, "ada"), launch(tool, lms, "bob")
    top = ada.ok("POST", "/comments", 201, json={"body": "Who else found module 3 hard?"})
    assert (top["mine"], top["edited"], top["held"], top["parent_id"], top["replies"]) == (True, False, False, None, [])
    assert top["author"] == {"name": "Ada"}
    reply = bob.ok("POST", "/comments", 201, json={"body": "Me too.", "parent_id": top["id"]})
    assert reply["parent_id"] == top["id"]
    problem(ada.post("/comments", json={"body": "Deeper", "parent_id": reply["id"]}), 409)
    problem(ada.post("/comments", json={"body": "   "}), 422)
    problem(ada.post("/comments", json={"body": "Orphan", "parent_id": 999999}), 404)

    problem(bob.patch(f"/comments/{top['id']}", json={"body": "Not mine"}), 403)
    problem(bob.delete(f"/comments/{top['id']}"), 403)
    edited = ada.ok("PATCH", f"/comments/{top['id']}", json={"body": "Who else found module 3 hard? (the quiz)"})
    assert (edited["edited"], edited["body"]) == (True, "Who else found module 3 hard? (the quiz)")

    page = bob.ok("GET", "/comments")
    assert page["count"] == 2
    assert [(c["id"], [r["id"] for r in c["replies"]]) for c in page["comments"]] == [(top["id"], [reply["id"]])]

    assert ada.delete(f"/comments/{top['id']}").status_code == 204
    page = bob.ok("GET", "/comments")
    (placeholder,) = page["comments"]
    assert placeholder["id"] == top["id"]
    assert (placeholder["deleted"], placeholder["body"], placeholder["author"], placeholder["mine"]) == (
        True,
        "",
        None,
        False,
    )
    assert [r["body"] for r in placeholder["replies"]] == ["Me too."]
    problem(ada.patch(f"/comments/{top['id']}", json={"body": "Back"}), 404)

    assert bob.delete(f"/comments/{reply['id']}").status_code == 204
    assert bob.ok("GET", "/comments")["comments"] == []  # no readable reply left: the placeholder goes too


def test_premoderated_comments_wait_for_an_instructor(tool: Tool, lms: LmsPlatform) -> None:
    settings = {"comments.premoderate": True}
    ada = launch(tool, lms, "ada", link="premoderated", settings=settings)
    bob = launch(tool, lms, "bob", link="premoderated", settings=settings)
    teacher = launch(tool, lms, "teacher", staff=True, link="premoderated", settings=settings)

    held = ada.ok("POST", "/comments", 201, json={"body": "Is anyone reading this?"})
    assert held["held"] is True
    mine = find(ada.ok("GET", "/comments"), held["id"])
    assert mine is not None and mine["held"] is True and mine["body"] == "Is anyone reading this?"
    assert find(bob.ok("GET", "/comments"), held["id"]) is None
    assert bob.ok("GET", "/comments")["count"] == 0
    problem(bob.post(f"/comments/{held['id']}/reports", json={}), 404)
    problem(bob.post("/comments", json={"body": "reply", "parent_id": held["id"]}), 409)

    (entry,) = teacher.ok("GET", "/moderation/queue")["entries"]
    assert (entry["kind"], entry["id"], entry["held"]) == ("comment", held["id"], True)
    problem(bob.post(f"/comments/{held['id']}/approve"), 403)
    approved = teacher.ok("POST", f"/comments/{held['id']}/approve")
    assert approved["held"] is False
    seen = find(bob.ok("GET", "/comments"), held["id"])
    assert seen is not None and seen["held"] is False
    assert teacher.ok("GET", "/moderation/queue")["entries"] == []

    staff_comment = teacher.ok("POST", "/comments", 201, json={"body": "Instructors are not held."})
    assert staff_comment["held"] is False


def test_instructor_hides_a_comment_with_a_reason(tool: Tool, lms: LmsPlatform) -> None:
    ada, bob = launch(tool, lms, "ada"), launch(tool, lms, "bob")
    teacher = launch(tool, lms, "teacher", staff=True)
    comment = ada.ok("POST", "/comments", 201, json={"body": "Buy cheap watches at spam.example"})
    bob.ok("POST", f"/comments/{comment['id']}/reports", 201, json={"reason": "spam"})

    hidden = teacher.ok("POST", f"/comments/{comment['id']}/hide", json={"reason": "Advertising"})
    assert (hidden["hidden"], hidden["hidden_reason"], hidden["body"]) == (
        True,
        "Advertising",
        "Buy cheap watches at spam.example",
    )
    for learner in (ada, bob):
        page = learner.ok("GET", "/comments")
        assert find(page, comment["id"]) is None
        assert "spam.example" not in json.dumps(page)
        problem(learner.patch(f"/comments/{comment['id']}", json={"body": "edited"}), 404)
    assert find(teacher.ok("GET", "/comments"), comment["id"])["hidden_reason"] == "Advertising"  # type: ignore[index]
    assert teacher.ok("GET", "/moderation/queue")["entries"] == []  # hiding resolved the report

    shown = teacher.ok("POST", f"/comments/{comment['id']}/unhide")
    assert (shown["hidden"], shown["hidden_reason"]) == (False, None)
    assert find(bob.ok("GET", "/comments"), comment["id"]) is not None


def test_hidden_comment_with_replies_stays_as_a_placeholder_without_text(tool: Tool, lms: LmsPlatform) -> None:
    ada, bob = launch(tool, lms, "ada"), launch(tool, lms, "bob")
    teacher = launch(tool, lms, "teacher", staff=True)
    top = ada.ok("POST", "/comments", 201, json={"body": "Something nasty"})
    bob.ok("POST", "/comments", 201, json={"body": "Please be kind.", "parent_id": top["id"]})
    teacher.ok("POST", f"/comments/{top['id']}/hide", json={"reason": "Insulting"})

    (placeholder,) = bob.ok("GET", "/comments")["comments"]
    assert (placeholder["hidden"], placeholder["body"], placeholder["author"]) == (True, "", None)
    assert "hidden_reason" not in placeholder
    assert [r["body"] for r in placeholder["replies"]] == ["Please be kind."]
    fragment = bob.get("/fragments/comments").text
    assert "Something nasty" not in fragment and "Insulting" not in fragment


def test_pinned_comments_come_first(tool: Tool, lms: LmsPlatform) -> None:
    ada, bob = launch(tool, lms, "ada"), launch(tool, lms, "bob")
    teacher = launch(tool, lms, "teacher", staff=True)
    first = ada.ok("POST", "/comments", 201, json={"body": "First"})
    ada.ok("POST", "/comments", 201, json={"body": "Second"})
    reply = bob.ok("POST", "/comments", 201, json={"body": "Reply", "parent_id": first["id"]})

    problem(bob.post(f"/comments/{first['id']}/pin"), 403)
    problem(teacher.post(f"/comments/{reply['id']}/pin"), 409)
    assert teacher.ok("POST", f"/comments/{first['id']}/pin")["pinned"] is True
    page = bob.ok("GET", "/comments")
    assert [c["body"] for c in page["pinned"]] == ["First"]
    assert [c["body"] for c in page["comments"]] == ["Second"]
    assert [r["body"] for r in page["pinned"][0]["replies"]] == ["Reply"]

    assert teacher.ok("POST", f"/comments/{first['id']}/unpin")["pinned"] is False
    assert bob.ok("GET", "/comments")["pinned"] == []


def test_moderation_queue_lists_reported_and_held_items(tool: Tool, lms: LmsPlatform) -> None:
    ada = launch(tool, lms, "ada", link="premoderated", settings={"comments.premoderate": True})
    bob = launch(tool, lms, "bob")
    teacher = launch(tool, lms, "teacher", staff=True)
    bob.ok("POST", "/comments", 201, json={"body": "A fine comment"})
    bob.ok("PUT", "/ratings/mine", json={"stars": 3, "review": "Average review"})
    held = ada.ok("POST", "/comments", 201, json={"body": "Held comment"})
    (review,) = ada.ok("GET", "/reviews")["reviews"]
    comment = next(c for c in ada.ok("GET", "/comments")["comments"] if c["body"] == "A fine comment")
    ada.ok("POST", f"/reviews/{review['id']}/reports", 201, json={"reason": "r1"})
    ada.ok("POST", f"/comments/{comment['id']}/reports", 201, json={"reason": "c1"})

    problem(ada.get("/moderation/queue"), 403)
    entries = teacher.ok("GET", "/moderation/queue")["entries"]
    assert sorted((e["kind"], e["id"], e["reports"], e["held"], tuple(e["reasons"])) for e in entries) == sorted(
        [
            ("review", review["id"], 1, False, ("r1",)),
            ("comment", comment["id"], 1, False, ("c1",)),
            ("comment", held["id"], 0, True, ()),
        ]
    )
    fragment = teacher.get("/fragments/moderation")
    assert fragment.status_code == 200
    for text in ("Average review", "A fine comment", "Held comment"):
        assert text in fragment.text


# -- CSV and fragments ------------------------------------------------------------------------
def test_ratings_csv_for_instructors_only_and_formula_safe(tool: Tool, lms: LmsPlatform) -> None:
    ada, bob = launch(tool, lms, "ada", name="Ada Lovelace"), launch(tool, lms, "bob")
    teacher = launch(tool, lms, "teacher", staff=True)
    ada.ok("PUT", "/ratings/mine", json={"stars": 5, "review": '=HYPERLINK("http://evil.example","click")'})
    bob.ok("PUT", "/ratings/mine", json={"stars": 3})
    launch(tool, lms, "cy", name="@SUM(1+1)").ok("PUT", "/ratings/mine", json={"stars": 1, "review": "-1 star"})

    problem(ada.get("/fragments/ratings.csv"), 403)
    response = teacher.get("/fragments/ratings.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == 4
    by_author = {row[CSV_HEADER.index("author")]: row for row in rows[1:]}
    assert by_author["Ada Lovelace"][CSV_HEADER.index("review")] == '\'=HYPERLINK("http://evil.example","click")'
    assert by_author["Ada Lovelace"][CSV_HEADER.index("stars")] == "5"
    assert by_author["Bob"][CSV_HEADER.index("review")] == ""  # empty cells stay empty
    assert by_author["'@SUM(1+1)"][CSV_HEADER.index("review")] == "'-1 star"


SCRIPT = "<script>alert(1)</script>"


def test_fragments_are_html_with_learner_text_escaped(tool: Tool, lms: LmsPlatform) -> None:
    ada, bob = launch(tool, lms, "ada"), launch(tool, lms, "bob")
    teacher = launch(tool, lms, "teacher", staff=True)
    ada.ok("PUT", "/ratings/mine", json={"stars": 4, "review": SCRIPT})
    comment = ada.ok("POST", "/comments", 201, json={"body": SCRIPT})
    bob.ok("POST", f"/comments/{comment['id']}/reports", 201, json={"reason": SCRIPT})

    pages = {
        "ratings": bob.get("/fragments/ratings"),
        "comments": bob.get("/fragments/comments"),
        "moderation": teacher.get("/fragments/moderation"),
        "staff ratings": teacher.get("/fragments/ratings"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, (name, response.text)
        assert response.headers["Content-Type"].startswith("text/html"), name
        assert response.headers["Cache-Control"] == "no-store", name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text, name
        assert "<script>alert" not in response.text, name
    assert "<script" not in pages["comments"].text.lower()
    more = bob.get("/fragments/comments", params={"part": "more"})
    assert more.status_code == 200 and "<script>alert" not in more.text
    problem(bob.get("/fragments/moderation"), 403)
    problem(bob.get("/fragments/nothing"), 404)
    for page in ("0", "²", "1" * 5000, "-1", "x"):  # superscript digits and huge numbers too: never a 500
        problem(bob.get("/fragments/ratings", params={"page": page}), 422)
