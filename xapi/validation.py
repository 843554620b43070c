"""Check a statement against xAPI 1.0.3 before it is queued, as a strict LRS would.

A statement an LRS refuses would sit in the outbox as "failed" days after the action: checking
here makes a builder bug fail in the action's own test instead. The rules are the ones a strict
LRS enforces (xAPI 1.0.3, part 2, section 2.4, and the LRS requirements in part 3): known keys
only, absolute IRIs, UUID ids, exactly one inverse functional identifier per agent, RFC 5646
language tags, scores in range, timestamps with a time zone.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_MAX_TEXT = 65536

STATEMENT_KEYS = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version"}
AGENT_KEYS = {"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"}
ACTIVITY_KEYS = {"objectType", "id", "definition"}
DEFINITION_KEYS = {"name", "description", "type", "moreInfo", "extensions"}
RESULT_KEYS = {"score", "success", "completion", "response", "duration", "extensions"}
SCORE_KEYS = {"scaled", "raw", "min", "max"}
CONTEXT_KEYS = {
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "revision",
    "platform",
    "language",
    "statement",
    "extensions",
}
CONTEXT_ACTIVITY_KEYS = {"parent", "grouping", "category", "other"}


class InvalidStatementError(ValueError):
    """The statement breaks xAPI 1.0.3; the message says where (``context.language: ...``)."""


def _fail(path: str, problem: str) -> None:
    raise InvalidStatementError(f"{path}: {problem}")


def _object(value: Any, path: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(path, "must be a JSON object")
    unknown = sorted(set(value) - keys)
    if unknown:
        _fail(path, f"unknown keys {unknown}")
    return value


def _iri(value: Any, path: str) -> None:
    if not isinstance(value, str) or not _IRI.match(value):
        _fail(path, f"must be an absolute IRI (got {value!r})")


def _uuid(value: Any, path: str) -> None:
    try:
        uuid.UUID(str(value))
    except ValueError:
        _fail(path, f"must be a UUID (got {value!r})")
    if not isinstance(value, str):
        _fail(path, "must be a UUID string")


def _text(value: Any, path: str) -> None:
    if not isinstance(value, str):
        _fail(path, "must be a string")
    if len(value) > _MAX_TEXT:
        _fail(path, f"is longer than {_MAX_TEXT} characters")


def _language_map(value: Any, path: str) -> None:
    if not isinstance(value, Mapping) or not value:
        _fail(path, "must be a non-empty language map")
    for tag, text in value.items():
        if not _LANGUAGE_TAG.match(str(tag)):
            _fail(path, f"{tag!r} is not an RFC 5646 language tag")
        _text(text, f"{path}.{tag}")


def _extensions(value: Any, path: str) -> None:
    if not isinstance(value, Mapping):
        _fail(path, "must be a JSON object")
    for key in value:
        _iri(key, f"{path} key")


def _timestamp(value: Any, path: str) -> None:
    if not isinstance(value, str):
        _fail(path, "must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(path, f"is not an ISO 8601 timestamp (got {value!r})")
    if moment.tzinfo is None:
        _fail(path, "must carry a time zone")


def _agent(value: Any, path: str) -> None:
    agent = _object(value, path, AGENT_KEYS)
    if agent.get("objectType", "Agent") != "Agent":
        _fail(f"{path}.objectType", "only Agents are written here")
    identifiers = [k for k in ("mbox", "mbox_sha1sum", "openid", "account") if k in agent]
    if len(identifiers) != 1:
        _fail(path, f"needs exactly one of mbox, mbox_sha1sum, openid, account (has {identifiers})")
    if "name" in agent:
        _text(agent["name"], f"{path}.name")
    if "mbox" in agent and not (isinstance(agent["mbox"], str) and agent["mbox"].startswith("mailto:")):
        _fail(f"{path}.mbox", "must be a mailto: IRI")
    if "mbox_sha1sum" in agent and not _SHA1.match(str(agent["mbox_sha1sum"])):
        _fail(f"{path}.mbox_sha1sum", "must be 40 lowercase hex digits")
    if "openid" in agent:
        _iri(agent["openid"], f"{path}.openid")
    if "account" in agent:
        account = _object(agent["account"], f"{path}.account", {"homePage", "name"})
        _iri(account.get("homePage"), f"{path}.account.homePage")
        if not isinstance(account.get("name"), str) or not account["name"]:
            _fail(f"{path}.account.name", "must be a non-empty string")


def _activity(value: Any, path: str) -> None:
    activity = _object(value, path, ACTIVITY_KEYS)
    if activity.get("objectType", "Activity") != "Activity":
        _fail(f"{path}.objectType", "must be Activity")
    _iri(activity.get("id"), f"{path}.id")
    if "definition" in activity:
        definition = _object(activity["definition"], f"{path}.definition", DEFINITION_KEYS)
        for key in ("name", "description"):
            if key in definition:
                _language_map(definition[key], f"{path}.definition.{key}")
        for key in ("type", "moreInfo"):
            if key in definition:
                _iri(definition[key], f"{path}.definition.{key}")
        if "extensions" in definition:
            _extensions(definition["extensions"], f"{path}.definition.extensions")


def _statement_ref(value: Any, path: str) -> None:
    ref = _object(value, path, {"objectType", "id"})
    if ref.get("objectType") != "StatementRef":
        _fail(f"{path}.objectType", "must be StatementRef")
    _uuid(ref.get("id"), f"{path}.id")


_OBJECTS: dict[str, Callable[[Any, str], None]] = {
    "Activity": _activity,
    "Agent": _agent,
    "StatementRef": _statement_ref,
}


def _score(value: Any, path: str) -> None:
    score = _object(value, path, SCORE_KEYS)
    for key, number in score.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            _fail(f"{path}.{key}", "must be a number")
    if "scaled" in score and not -1 <= score["scaled"] <= 1:
        _fail(f"{path}.scaled", "must be between -1 and 1")
    low, high, raw = score.get("min"), score.get("max"), score.get("raw")
    if low is not None and high is not None and low >= high:
        _fail(path, "min must be less than max")
    if raw is not None and ((low is not None and raw < low) or (high is not None and raw > high)):
        _fail(f"{path}.raw", "must be between min and max")


def _result(value: Any, path: str) -> None:
    result = _object(value, path, RESULT_KEYS)
    if "score" in result:
        _score(result["score"], f"{path}.score")
    for key in ("success", "completion"):
        if key in result and not isinstance(result[key], bool):
            _fail(f"{path}.{key}", "must be true or false")
    if "response" in result:
        _text(result["response"], f"{path}.response")
    if "extensions" in result:
        _extensions(result["extensions"], f"{path}.extensions")


def _context(value: Any, path: str) -> None:
    ctx = _object(value, path, CONTEXT_KEYS)
    if "registration" in ctx:
        _uuid(ctx["registration"], f"{path}.registration")
    if "instructor" in ctx:
        _agent(ctx["instructor"], f"{path}.instructor")
    for key in ("platform", "revision"):
        if key in ctx:
            _text(ctx[key], f"{path}.{key}")
    if "language" in ctx and not _LANGUAGE_TAG.match(str(ctx["language"])):
        _fail(f"{path}.language", f"{ctx['language']!r} is not an RFC 5646 language tag")
    if "statement" in ctx:
        _statement_ref(ctx["statement"], f"{path}.statement")
    if "contextActivities" in ctx:
        activities = _object(ctx["contextActivities"], f"{path}.contextActivities", CONTEXT_ACTIVITY_KEYS)
        for key, listed in activities.items():
            for index, activity in enumerate(listed if isinstance(listed, list) else [listed]):
                _activity(activity, f"{path}.contextActivities.{key}[{index}]")
    if "extensions" in ctx:
        _extensions(ctx["extensions"], f"{path}.extensions")


def validate(statement: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidStatementError` unless ``statement`` is a valid xAPI 1.0.3 statement."""
    _object(statement, "statement", STATEMENT_KEYS)
    for required in ("id", "actor", "verb", "object", "timestamp"):
        if required not in statement:
            _fail(required, "is required here")
    _uuid(statement["id"], "id")
    _agent(statement["actor"], "actor")
    verb = _object(statement["verb"], "verb", {"id", "display"})
    _iri(verb.get("id"), "verb.id")
    if "display" in verb:
        _language_map(verb["display"], "verb.display")
    obj = statement["object"]
    kind = obj.get("objectType", "Activity") if isinstance(obj, Mapping) else None
    if kind not in _OBJECTS:
        _fail("object.objectType", f"must be one of {sorted(_OBJECTS)} (got {kind!r})")
    _OBJECTS[kind](obj, "object")
    is_voiding = verb.get("id") == "http://adlnet.gov/expapi/verbs/voided"
    if is_voiding and kind != "StatementRef":
        _fail("object", "a voiding statement's object must be a StatementRef")
    if "result" in statement:
        _result(statement["result"], "result")
    if "context" in statement:
        _context(statement["context"], "context")
        if kind != "Activity" and any(k in statement["context"] for k in ("revision", "platform")):
            _fail("context", "revision and platform are only allowed when the object is an Activity")
    _timestamp(statement["timestamp"], "timestamp")
    if "version" in statement and not str(statement["version"]).startswith("1.0"):
        _fail("version", "must be 1.0.x")
