"""The xAPI 1.0.3 check refuses what a strict LRS refuses, and names where."""

from __future__ import annotations

import copy

import pytest

from xapi.validation import InvalidStatementError, validate

VALID = {
    "id": "0b0e5bf4-6f0d-4b9f-9d0a-2f4b8f9a6c11",
    "version": "1.0.3",
    "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "ada"}},
    "verb": {"id": "http://id.tincanapi.com/verb/rated", "display": {"en-US": "rated"}},
    "object": {
        "objectType": "Activity",
        "id": "https://lms.example/course/view.php?id=3",
        "definition": {"name": {"en": "Safety"}, "type": "http://adlnet.gov/expapi/activities/course"},
    },
    "result": {"score": {"raw": 4, "min": 1, "max": 5, "scaled": 0.8}, "response": "Good"},
    "context": {
        "platform": "Word of Mouth",
        "language": "en-GB",
        "contextActivities": {"grouping": [{"id": "https://lms.example", "objectType": "Activity"}]},
        "extensions": {"https://tool.example/xapi/extensions/lti-context-id": "3"},
    },
    "timestamp": "2026-11-30T10:00:00+00:00",
}


def changed(path: str, value: object) -> dict:
    statement = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    target = statement
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return statement


DELETE = object()


def test_a_valid_statement_passes() -> None:
    validate(VALID)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("id", "not-a-uuid", "id: must be a UUID"),
        ("verb.id", "rated", "verb.id: must be an absolute IRI"),
        ("object.id", "course 3", "object.id: must be an absolute IRI"),
        ("timestamp", "2026-11-30T10:00:00", "timestamp: must carry a time zone"),
        ("timestamp", "yesterday", "timestamp: is not an ISO 8601 timestamp"),
        ("result.score.scaled", 1.5, "result.score.scaled: must be between -1 and 1"),
        ("result.score.raw", 6, "result.score.raw: must be between min and max"),
        ("result.score.min", 5, "result.score: min must be less than max"),
        ("context.language", "english please", "context.language"),
        ("verb.display", {"en_US": "rated"}, "not an RFC 5646 language tag"),
        ("actor.mbox", "mailto:ada@example.org", "needs exactly one of"),
        ("actor.account", DELETE, "needs exactly one of"),
        ("actor.account.name", "", "actor.account.name: must be a non-empty string"),
        ("actor.mbox_sha1sum", "XYZ", "needs exactly one of"),
        ("result.colour", "blue", "result: unknown keys ['colour']"),
        ("surprise", 1, "statement: unknown keys ['surprise']"),
        ("context.extensions", {"not an iri": 1}, "context.extensions key"),
        ("object.objectType", "Person", "object.objectType: must be one of"),
        ("verb", DELETE, "verb: is required here"),
        ("version", "2.0.0", "version: must be 1.0.x"),
    ],
)
def test_each_rule_is_enforced_with_the_place_named(path: str, value: object, message: str) -> None:
    with pytest.raises(InvalidStatementError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate(changed(path, value))


def test_context_platform_is_refused_when_the_object_is_not_an_activity() -> None:
    statement = changed("object", {"objectType": "StatementRef", "id": VALID["id"]})
    with pytest.raises(InvalidStatementError, match="only allowed when the object is an Activity"):
        validate(statement)
    del statement["context"]["platform"]
    validate(statement)


def test_a_voiding_statement_must_target_a_statement() -> None:
    statement = changed("verb", {"id": "http://adlnet.gov/expapi/verbs/voided"})
    del statement["context"], statement["result"]
    with pytest.raises(InvalidStatementError, match="voiding statement's object must be a StatementRef"):
        validate(statement)
    statement["object"] = {"objectType": "StatementRef", "id": VALID["id"]}
    validate(statement)
