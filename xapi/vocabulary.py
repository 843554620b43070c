"""The xAPI vocabulary Word of Mouth speaks: verbs, activity types and extension IRIs.

Verbs are established IRIs from the ADL registry (``http://adlnet.gov/expapi/verbs/...``), the
Tin Can registry (``http://id.tincanapi.com/verb/...``) and Activity Streams, so an LRS report
that knows them already groups our statements with everyone else's. Extension and activity-type
IRIs that no registry has are the project's own: ``{WOM_BASE_URL}/xapi/extensions/<name>``
(:func:`extension`), which the tool serves as a description (documented in docs/xapi.md).
See xAPI 1.0.3, part 2, section 2.4.3 (verbs) and 2.4.6.2 (extensions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Verb:
    """A verb IRI with its English display name."""

    iri: str
    display: str


RATED: Final = Verb("http://id.tincanapi.com/verb/rated", "rated")
VOTED_UP: Final = Verb("http://id.tincanapi.com/verb/voted-up", "voted up")
COMMENTED: Final = Verb("http://adlnet.gov/expapi/verbs/commented", "commented")
REPLIED: Final = Verb("http://id.tincanapi.com/verb/replied", "replied to")
VOIDED: Final = Verb("http://adlnet.gov/expapi/verbs/voided", "voided")
FOLLOWED: Final = Verb("http://activitystrea.ms/schema/1.0/follow", "followed")
SHARED: Final = Verb("http://adlnet.gov/expapi/verbs/shared", "shared")
LAUNCHED: Final = Verb("http://adlnet.gov/expapi/verbs/launched", "launched")
COMPLETED: Final = Verb("http://adlnet.gov/expapi/verbs/completed", "completed")

ALL_VERBS: Final = (RATED, VOTED_UP, COMMENTED, REPLIED, VOIDED, FOLLOWED, SHARED, LAUNCHED, COMPLETED)

# Statements of these verbs from the LMS itself say a learner took a course (`xapi pull`).
TOOK_VERBS: Final = frozenset({COMPLETED.iri, LAUNCHED.iri})

COURSE: Final = "http://adlnet.gov/expapi/activities/course"
REVIEW: Final = "http://id.tincanapi.com/activitytype/review"
LMS: Final = "http://id.tincanapi.com/activitytype/lms"

PLATFORM_NAME: Final = "Word of Mouth"

# The project's own extensions: name -> what its value is (served at each extension's IRI).
EXTENSIONS: Final = {
    "lti-deployment-id": "The LTI deployment id of the launch (claim .../lti/claim/deployment_id).",
    "lti-context-id": "The LTI context (course) id of the launch (https://purl.imsglobal.org/spec/lti/claim/context).",
    "lti-resource-link-id": "The LTI resource link id of the placement the learner used, when known.",
    "recipient": "The colleague an item was recommended to: an xAPI Agent.",
}


def extension(base_url: str, name: str) -> str:
    """The IRI of one of the project's extensions under the tool's base URL."""
    if name not in EXTENSIONS:
        raise KeyError(name)
    return f"{base_url.rstrip('/')}/xapi/extensions/{name}"


VERSION: Final = "1.0.3"
