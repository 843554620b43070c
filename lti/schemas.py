"""The shapes of what an LMS (or anyone) sends, checked at the edge before anything is read or written.

marshmallow schemas for the OIDC login parameters and the id_token's claims
(https://www.imsglobal.org/spec/lti/v1p3/#required-message-claims,
https://www.imsglobal.org/spec/lti-dl/v2p0#deep-linking-request-message). They refuse what the
database or the code after them cannot hold: identifiers longer than their columns (255), URLs over
2,048 characters, names that are not strings, claims that must be JSON objects but are not, a
``wom_placement`` that is not a placement number. A refusal is a 400 naming the claim, never a 500.
Presence of required claims is left to the checks after this one (and pylti1p3's validators), so
their messages stay specific. Display texts that are merely long (a course title, a name) are not
refused: the launch context cuts them to their columns.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

from lti import claims
from lti.errors import LaunchError
from lti.launch import CUSTOM_ITEM, CUSTOM_PLACEMENT
from plugin.services.launches import filled

ID_LENGTH = 255  # sub, context id, resource link id, deployment id, wom_item: the columns that hold them
URL_LENGTH = 2048
HINT_LENGTH = 4096  # login_hint and lti_message_hint travel back to the LMS in a URL
PLACEMENT_ID_MAX = 2**31 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,10}")


def _identifier(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.Length(min=1, max=ID_LENGTH, error="must be between {min} and {max} characters long"),
        **kwargs,
    )


def _url(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=URL_LENGTH), **kwargs)


class _Open(Schema):
    """Claims we do not use are the platform's business: kept, not checked."""

    class Meta:
        unknown = INCLUDE


class ContextClaim(_Open):
    id = _identifier()
    title = fields.String(allow_none=True)
    label = fields.String(allow_none=True)


class ResourceLinkClaim(_Open):
    id = _identifier()
    title = fields.String(allow_none=True)


class PresentationClaim(_Open):
    locale = fields.String(allow_none=True)
    return_url = fields.String(allow_none=True)


class NamesRolesClaim(_Open):
    context_memberships_url = fields.String(allow_none=True)


class DeepLinkingSettingsClaim(_Open):
    deep_link_return_url = _url()
    accept_types = fields.List(fields.String())
    accept_presentation_document_targets = fields.List(fields.String())
    title = fields.String(allow_none=True)
    text = fields.String(allow_none=True)


class LaunchClaims(_Open):
    sub = _identifier()
    name = fields.String(allow_none=True)
    given_name = fields.String(allow_none=True)
    family_name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    deployment_id = _identifier(data_key=claims.DEPLOYMENT_ID)
    target_link_uri = _url(data_key=claims.TARGET_LINK_URI)
    roles = fields.List(fields.String(), data_key=claims.ROLES)
    context = fields.Nested(ContextClaim, data_key=claims.CONTEXT, allow_none=True)
    resource_link = fields.Nested(ResourceLinkClaim, data_key=claims.RESOURCE_LINK, allow_none=True)
    custom = fields.Dict(keys=fields.String(), data_key=claims.CUSTOM, allow_none=True)
    launch_presentation = fields.Nested(PresentationClaim, data_key=claims.LAUNCH_PRESENTATION, allow_none=True)
    names_roles = fields.Nested(NamesRolesClaim, data_key=claims.NAMES_ROLES, allow_none=True)
    deep_linking_settings = fields.Nested(DeepLinkingSettingsClaim, data_key=claims.DEEP_LINKING_SETTINGS)


class LoginParameters(_Open):
    iss = _url()
    login_hint = fields.String(validate=validate.Length(max=HINT_LENGTH))
    target_link_uri = _url()
    client_id = fields.String(validate=validate.Length(max=ID_LENGTH))
    lti_deployment_id = fields.String(validate=validate.Length(max=ID_LENGTH))
    lti_message_hint = fields.String(validate=validate.Length(max=HINT_LENGTH))


_LAUNCH = LaunchClaims()
_LOGIN = LoginParameters()


def _short(name: str) -> str:
    for prefix in (claims.LTI, "https://purl.imsglobal.org/spec/lti-dl/claim/", "https://purl.imsglobal.org/spec/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _first_error(errors: Any, path: tuple[str, ...] = ()) -> tuple[str, str]:
    """The first message of marshmallow's nested errors, with the path of names that leads to it."""
    if isinstance(errors, dict):
        key = sorted(errors, key=str)[0]
        name = _short(str(key))
        return _first_error(errors[key], path if name == "_schema" else (*path, name))
    if isinstance(errors, list) and errors:
        return _first_error(errors[0], path)
    return ".".join(path) or "?", str(errors).rstrip(".")


def _refuse(errors: Any, what: str) -> LaunchError:
    name, message = _first_error(errors)
    if message.startswith("Longer than maximum length"):
        message = message.replace("Longer than maximum length", "longer than") + " characters"
    elif message == "Invalid input type":
        message = "not a JSON object"
    return LaunchError(
        f"the {what} {name!r} is not acceptable: {message[:200]}",
        "The LMS sent a value Word of Mouth cannot hold; check the LMS's LTI settings and custom parameters.",
    )


def _has_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 32:
        return False
    if isinstance(value, dict):
        return any(_has_nul(k, depth + 1) or _has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v, depth + 1) for v in value)
    return False


def check_no_nul(value: Any, what: str) -> None:
    """Refuse NUL characters anywhere in ``value``: PostgreSQL cannot store or even compare them."""
    if _has_nul(value):
        raise LaunchError(
            f"the {what} contains a NUL character",
            "The LMS (or whoever sent this request) sent a value no text may hold.",
        )


def check_launch_claims(body: dict[str, Any]) -> None:
    """Refuse (400) claims of the wrong type or size; see the module docstring."""
    errors = _LAUNCH.validate(body)
    if errors:
        raise _refuse(errors, "claim")
    custom = body.get(claims.CUSTOM)
    if isinstance(custom, dict):
        check_custom(custom)


def check_custom(custom: dict[str, Any]) -> None:
    """Our own custom parameters: ``wom_item`` an identifier, ``wom_placement`` a placement number."""
    for name, value in custom.items():
        if isinstance(value, dict | list):
            raise _refuse({claims.CUSTOM: {name: ["a custom parameter must be a string"]}}, "claim")
    item = filled(custom.get(CUSTOM_ITEM))
    if item is not None and len(item) > ID_LENGTH:
        raise _refuse({claims.CUSTOM: {CUSTOM_ITEM: [f"longer than {ID_LENGTH} characters"]}}, "claim")
    placement = filled(custom.get(CUSTOM_PLACEMENT))
    if placement is not None and not (_ASCII_DIGITS.fullmatch(placement) and int(placement) <= PLACEMENT_ID_MAX):
        raise _refuse(
            {claims.CUSTOM: {CUSTOM_PLACEMENT: ["not a placement number (written by our deep linking response)"]}},
            "claim",
        )


def check_login(params: Any) -> None:
    """Refuse (400) login parameters longer than we keep or send back; anyone can send them."""
    check_no_nul([[k, *params.getlist(k)] for k in params] if hasattr(params, "getlist") else params, "login request")
    values = {name: params.get(name) for name in _LOGIN.fields if params.get(name) is not None}
    errors = _LOGIN.validate(values)
    if errors:
        raise _refuse(errors, "login parameter")
