"""Who may call what, for every operation of the OpenAPI document and every fragment.

Two organisations (platforms A and B); on A two courses, each with learners and an instructor;
B launches the same context id and the same learner sub as A's first course, so only the
platform tells them apart. The operations are read from ``/api/openapi.json``: a new endpoint is
in the matrix the day it is added.

- no token, or a token we did not sign: 401;
- platform B or course 2 acting on course 1's review and comment ids: 404, never a success and
  never course 1's text in the answer (a learner on an instructors-only operation may get the
  403 first, which tells nothing about the id);
- a learner on an instructors-only operation of their own course: 403;
- course 1's instructor on course 2's ids: 404;
- colleagues are the people of one organisation, not of one course: a colleague id works from
  any course of the same platform and answers 404 from another platform;
- nothing answers 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tests.integration.lti import conftest as lti_fixtures
from tests.integration.lti.conftest import Tool, register
from tests.integration.widgets.test_api_flows import Api, launch
from tests.support.lti_platform import LmsPlatform, running_platform

PROBLEM_JSON = "application/problem+json"
FRAGMENTS = [
    ("get", "/api/v1/fragments/ratings", False),
    ("get", "/api/v1/fragments/comments", False),
    ("get", "/api/v1/fragments/comments?part=more", False),
    ("get", "/api/v1/fragments/colleagues", False),
    ("get", "/api/v1/fragments/colleagues?q=xx", False),
    ("get", "/api/v1/fragments/recommendations", False),
    ("get", "/api/v1/fragments/moderation", True),
    ("get", "/api/v1/fragments/ratings.csv", True),
]
# What only learners do: instructors do not rate their own course.
LEARNERS_ONLY = {("put", "/api/v1/ratings/mine")}
# What must be instructors-only; the matrix finds them by their "Instructors:" summary and checks
# that none of these lost it.
STAFF_ONLY = {
    ("post", "/api/v1/reviews/{review_id}/hide"),
    ("post", "/api/v1/reviews/{review_id}/unhide"),
    ("post", "/api/v1/comments/{comment_id}/hide"),
    ("post", "/api/v1/comments/{comment_id}/unhide"),
    ("post", "/api/v1/comments/{comment_id}/approve"),
    ("post", "/api/v1/comments/{comment_id}/pin"),
    ("post", "/api/v1/comments/{comment_id}/unpin"),
    ("get", "/api/v1/moderation/queue"),
    ("post", "/api/v1/moderation/dismiss"),
}


tool = lti_fixtures.tool  # the app served over HTTP on loopback
lms = lti_fixtures.lms  # a registered test platform


@pytest.fixture
def app_config(app_config: dict[str, str]) -> dict[str, str]:
    """Write limits off: the matrix writes far more than a learner would in a minute."""
    return {**app_config, "WOM_RATE_LIMIT_WRITES": "off"}


@dataclass(frozen=True)
class Call:
    """One concrete request: an operation with its ids filled in and a valid body."""

    method: str
    path: str  # the templated path of the document, for messages
    url: str
    body: dict[str, Any] | None
    staff_only: bool
    targets_ids: bool  # names a review or comment (in the path or the body)
    platform_wide: bool = False  # names a colleague: any course of the same organisation may

    def send(self, http: requests.Session, base: str) -> requests.Response:
        kwargs: dict[str, Any] = {"json": self.body} if self.body is not None else {}
        response = http.request(self.method.upper(), base + self.url, timeout=10, **kwargs)
        assert response.status_code < 500, f"{self}: {response.status_code} {response.text}"
        return response


@dataclass
class Course:
    """A course's launched people, the ids of its rows and the text only its people may read."""

    learner: Api
    other_learner: Api
    teacher: Api
    ids: dict[str, int] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _value(name: str, schema: dict[str, Any], ids: dict[str, int]) -> Any:
    if name == "parent_id":
        return ids["comment"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    raise AssertionError(f"no value for {name}: {schema}")


def bodies(document: dict[str, Any], operation: dict[str, Any], ids: dict[str, int]) -> list[dict[str, Any] | None]:
    """Valid bodies for ``operation`` that name ``ids``: one per kind when the body names a kind and an id."""
    content = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
    if content is None:
        return [None]
    schema = _resolve(document, content["schema"])
    properties = schema.get("properties", {})
    wanted = set(schema.get("required", ())) | ({"parent_id"} & set(properties))
    body = {name: _value(name, _resolve(document, properties[name]), ids) for name in sorted(wanted)}
    if "kind" in body and "id" in body:
        return [{**body, "kind": kind, "id": ids[kind]} for kind in properties["kind"]["enum"]]
    return [body]


def calls(document: dict[str, Any], ids: dict[str, int]) -> list[Call]:
    """Every operation of the document and every fragment, as requests on ``ids``."""
    found: list[Call] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            url = (
                path.replace("{review_id}", str(ids["review"]))
                .replace("{comment_id}", str(ids["comment"]))
                .replace("{colleague_id}", str(ids["colleague"]))
            )
            assert "{" not in url, f"a path parameter the matrix does not know: {path}"
            query = {
                p["name"]: _value(p["name"], p.get("schema", {}), ids)
                for p in operation.get("parameters", [])
                if p.get("in") == "query" and p.get("required")
            }
            if query:
                url += "?" + urlencode(query)
            staff_only = (operation.get("summary") or "").startswith("Instructors:")
            for body in bodies(document, operation, ids):
                in_path = "{review_id}" in path or "{comment_id}" in path
                names_ids = in_path or bool(body and ({"id", "parent_id"} & set(body)))
                found.append(Call(method, path, url, body, staff_only, names_ids, "{colleague_id}" in path))
    found += [Call(method, path, path, None, staff, False) for method, path, staff in FRAGMENTS]
    return found


def leaks(response: requests.Response, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in response.text]


@pytest.fixture
def other_lms(tool: Tool) -> Iterator[LmsPlatform]:
    with running_platform("https://other.example.org") as platform:
        register(tool, platform)
        yield platform


def _fill(course: Course, tag: str) -> None:
    """A review, a comment with a reply, a report and a hidden review, all with ``tag`` in their text."""
    secret = f"SECRET-{tag}"
    course.learner.ok("PUT", "/ratings/mine", json={"stars": 5, "review": f"{secret} review"})
    course.other_learner.ok("PUT", "/ratings/mine", json={"stars": 1, "review": f"{secret} hidden review"})
    reviews = {r["review"]: r["id"] for r in course.teacher.ok("GET", "/reviews")["reviews"]}
    course.teacher.ok("POST", f"/reviews/{reviews[f'{secret} hidden review']}/hide", json={"reason": f"{secret} why"})
    comment = course.learner.ok("POST", "/comments", 201, json={"body": f"{secret} comment"})
    course.other_learner.ok("POST", "/comments", 201, json={"body": f"{secret} reply", "parent_id": comment["id"]})
    course.other_learner.ok("POST", f"/reviews/{reviews[f'{secret} review']}/reports", 201, json={"reason": secret})
    course.other_learner.ok("PUT", "/privacy", json={"show_name": True})
    name = course.other_learner.ok("GET", "/me")["learner"]["name"]
    found = course.learner.ok("GET", "/colleagues/search", params={"q": name})["colleagues"]
    course.ids.update(review=reviews[f"{secret} review"], comment=comment["id"], colleague=found[0]["id"])
    course.secrets.append(secret)


def test_every_operation_is_scoped_to_its_organisation_course_and_role(
    tool: Tool, lms: LmsPlatform, other_lms: LmsPlatform
) -> None:
    course1 = Course(
        learner=launch(tool, lms, "ada"),
        other_learner=launch(tool, lms, "bob"),
        teacher=launch(tool, lms, "teacher-1", staff=True),
    )
    course2 = Course(
        learner=launch(tool, lms, "cy", course="course-2", link="link-2"),
        other_learner=launch(tool, lms, "dee", course="course-2", link="link-2"),
        teacher=launch(tool, lms, "teacher-2", staff=True, course="course-2", link="link-2"),
    )
    foreign = Course(  # the same context id, resource link and learner sub as course 1, on platform B
        learner=launch(tool, other_lms, "ada"),
        other_learner=launch(tool, other_lms, "bob", name="Bob of B"),
        teacher=launch(tool, other_lms, "teacher-1", staff=True),
    )
    for course, tag in ((course1, "C1"), (course2, "C2"), (foreign, "B1")):
        _fill(course, tag)
    assert len({course1.ids["review"], course2.ids["review"], foreign.ids["review"]}) == 3

    document = requests.get(tool.url + "/api/openapi.json", timeout=10).json()
    on_course1 = calls(document, course1.ids)
    on_course2 = calls(document, course2.ids)
    staff_found = {(c.method, c.path) for c in on_course1 if c.staff_only}
    assert staff_found >= STAFF_ONLY
    assert sum(c.targets_ids for c in on_course1) >= 15

    def snapshot() -> list[Any]:
        return [
            course1.learner.ok("GET", "/reviews"),
            course1.learner.ok("GET", "/comments"),
            course1.teacher.ok("GET", "/reviews"),
            course1.teacher.ok("GET", "/comments"),
            course1.teacher.ok("GET", "/moderation/queue"),
            course1.teacher.ok("GET", "/ratings"),
        ]

    before = snapshot()
    failures: list[str] = []

    # 1. No token, or one we never signed.
    for call in on_course1:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YWRhOmFkYQ=="}):
            with requests.Session() as anonymous:
                anonymous.headers.update(headers)
                response = call.send(anonymous, tool.url)
            if response.status_code != 401 or not response.headers["Content-Type"].startswith(PROBLEM_JSON):
                failures.append(f"{headers or 'no token'} {call}: {response.status_code}")
            if leaks(response, course1.secrets):
                failures.append(f"{headers or 'no token'} {call}: leaks course 1")

    # 2. Platform B and course 2 on course 1's ids.
    # (Their id-less writes change only their own rating; their authors' rows, which step 4 uses, stay.)
    outsiders = {
        "platform B learner (same sub)": (foreign.other_learner, False),
        "platform B instructor": (foreign.teacher, True),
        "course 2 learner": (course2.other_learner, False),
        "course 2 instructor": (course2.teacher, True),
    }
    for who, (api, staff) in outsiders.items():
        for call in on_course1:
            response = call.send(api.http, tool.url)
            if call.platform_wide:
                expected = {404} if who.startswith("platform B") else {200, 201, 204}
            elif call.targets_ids:
                expected = {403} if call.staff_only and not staff else {404}
            elif (call.method, call.path) in LEARNERS_ONLY:
                expected = {403} if staff else {200, 201, 204}
            else:
                expected = {403} if call.staff_only and not staff else {200, 201, 204}
            if response.status_code not in expected:
                failures.append(f"{who} {call}: {response.status_code}, expected {expected}: {response.text[:200]}")
            if found := leaks(response, course1.secrets):
                failures.append(f"{who} {call}: answer contains course 1's {found}")

    # 3. A learner of course 1 on instructors-only operations of their own course.
    for call in on_course1:
        if call.staff_only:
            response = call.send(course1.other_learner.http, tool.url)
            if response.status_code != 403:
                failures.append(f"course 1 learner {call}: {response.status_code}, expected 403")

    # 4. Course 1's instructor on course 2's ids.
    for call in on_course2:
        if call.platform_wide or (not call.targets_ids and call.method != "get"):
            continue  # colleagues are shared by the platform's courses; id-less writes change course 1's own rows
        response = call.send(course1.teacher.http, tool.url)
        if call.targets_ids and response.status_code != 404:
            failures.append(f"course 1 instructor {call}: {response.status_code}, expected 404")
        if found := leaks(response, course2.secrets + foreign.secrets):
            failures.append(f"course 1 instructor {call}: answer contains {found}")

    assert failures == [], "\n".join(failures)
    assert snapshot() == before, "a refused request changed course 1"

    # The ids were real: course 1's own people can use them.
    review, comment = course1.ids["review"], course1.ids["comment"]
    assert course1.other_learner.ok("PUT", f"/reviews/{review}/helpful")["helpful_count"] == 1
    assert course1.teacher.ok("POST", f"/comments/{comment}/pin")["pinned"] is True
    assert course1.learner.ok("PATCH", f"/comments/{comment}", json={"body": "SECRET-C1 edited"})["edited"] is True


def test_ids_in_the_matrix_come_from_the_document(tool: Tool) -> None:
    """The matrix fills every path parameter the document has, and knows every fragment route."""
    document = requests.get(tool.url + "/api/openapi.json", timeout=10).json()
    names = set()
    for path in document["paths"]:
        names.update(re.findall(r"{(\w+)}", path))
    assert names <= {"review_id", "comment_id", "colleague_id"}
    fragment_rules = {
        rule.rule for rule in tool.app.url_map.iter_rules() if rule.endpoint.startswith("widgets_fragments.")
    }
    assert fragment_rules - {"/api/v1/fragments/static/<path:filename>"} == {
        "/api/v1/fragments/<kind>",
        "/api/v1/fragments/ratings.csv",
    }
