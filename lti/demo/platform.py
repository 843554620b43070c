"""The demo LMS: a small LTI 1.3 platform inside the service, for newcomers and browser tests.

It is registered as an ordinary platform with keys of its own and launches the tool through the
real OIDC login and a signed id_token. It signs launches for anyone who opens it, so settings
refuse it in production.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy.orm import Session

from lti import claims
from plugin.models import Platform
from plugin.services import platforms
from plugin.settings import Settings

CLIENT_ID = "wom-demo-client"
DEPLOYMENT_ID = "wom-demo-deployment"
KEY_FILE = "demo_platform_key.pem"
LINKS_FILE = "demo_links.json"
INSTRUCTOR = claims.ROLE_PREFIX_CONTEXT + "Instructor"
LEARNER = claims.ROLE_PREFIX_CONTEXT + "Learner"
DEEP_LINKING = "deep-linking"
# Where a course's page is in the demo LMS, for the tool's links to other courses (recommendations).
COURSE_URL_TEMPLATE = "{issuer}/course/{context_id}"


@dataclass(frozen=True)
class DemoUser:
    id: str
    name: str
    given_name: str
    family_name: str
    email: str
    department: str
    instructor: bool = False
    locale: str = "en-GB"  # what the LMS says the person's language is (launch_presentation.locale)


@dataclass(frozen=True)
class DemoCourse:
    id: str
    title: str
    label: str
    department: str = ""  # catalogue courses: the department that takes it most ("" for everyone)


USERS = (
    DemoUser("ines", "Ines Instructor", "Ines", "Instructor", "ines@demo.example", "Learning & Development", True),
    DemoUser("ada", "Ada Lovelace", "Ada", "Lovelace", "ada@demo.example", "Engineering"),
    DemoUser("grace", "Grace Hopper", "Grace", "Hopper", "grace@demo.example", "Engineering"),
    DemoUser("alan", "Alan Turing", "Alan", "Turing", "alan@demo.example", "Research"),
    DemoUser("katherine", "Katherine Johnson", "Katherine", "Johnson", "katherine@demo.example", "Research"),
    DemoUser("jonas", "Jonas Becker", "Jonas", "Becker", "jonas@demo.example", "Sales", locale="de-DE"),
    DemoUser("camille", "Camille Martin", "Camille", "Martin", "camille@demo.example", "Operations", locale="fr-FR"),
)
COURSES = (
    DemoCourse("safety", "Safety at Work", "SAFE101"),
    DemoCourse("python", "Python for Analysts", "PY201"),
    DemoCourse("leading", "Leading Teams", "LEAD301"),
)
# The organisation's wider catalogue: colleagues took these before (``wordofmouth demo seed``); each
# opens in the demo LMS like the courses above, which are the ones its front page lists.
_CATALOGUE = {
    "": (
        "Data Protection and GDPR", "Information Security Awareness", "Anti-Bribery and Corruption",
        "Diversity and Inclusion at Work", "Mental Health First Aid", "Time Management",
        "Giving and Receiving Feedback", "Working Remotely", "Code of Conduct",
    ),
    "Engineering": (
        "Kubernetes Fundamentals", "Secure Coding Practices", "Git for Teams", "Cloud Architecture Basics",
        "Test-Driven Development", "Incident Response and On-Call", "Code Review That Helps",
    ),
    "Research": (
        "Statistics Refresher", "Experiment Design", "Machine Learning Foundations", "Research Ethics",
        "Writing Technical Reports",
    ),
    "Sales": (
        "Negotiation Skills", "Consultative Selling", "CRM Essentials", "Presenting with Confidence",
        "Handling Objections",
    ),
    "Operations": (
        "Lean Six Sigma Yellow Belt", "Supply Chain Basics", "Project Management Essentials",
        "Root Cause Analysis", "Health and Safety for Supervisors",
    ),
    "Customer Care": (
        "Customer Service Excellence", "De-escalating Difficult Conversations", "Writing Clear Emails",
        "Accessibility for Customer-Facing Staff",
    ),
    "Finance": (
        "Budgeting and Forecasting", "Excel: PivotTables and Power Query", "Reading a Balance Sheet",
        "Expense Policy Explained",
    ),
    "Marketing": ("Brand Guidelines", "Content Marketing Basics", "Social Media Policy", "Analytics for Marketers"),
    "Learning & Development": ("Designing E-Learning", "Coaching Skills for Managers", "Facilitation Skills"),
}  # fmt: skip
_PREFIX = {"": "ORG", "Learning & Development": "LND"}


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


CATALOGUE = tuple(
    DemoCourse(_slug(title), title, f"{_PREFIX.get(dept, dept[:3].upper())}{110 + 10 * n}", dept)
    for dept, titles in _CATALOGUE.items()
    for n, title in enumerate(titles)
)


def user(user_id: str) -> DemoUser | None:
    return next((u for u in USERS if u.id == user_id), None)


def course(course_id: str) -> DemoCourse | None:
    """A course of the demo LMS: one of its front page's, or of the wider catalogue."""
    return next((c for c in (*COURSES, *CATALOGUE) if c.id == course_id), None)


class DemoPlatform:
    """The demo LMS's keys, registration, resource links and id_tokens."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lms_url = settings.demo_lms_url
        self.issuer = self.lms_url + "/demo"
        self.tool_url = settings.base_url
        self.folder = settings.instance_path

    # -- keys ---------------------------------------------------------------------------------
    def _private_pem(self) -> bytes:
        path = self.folder / KEY_FILE
        if not path.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
        return path.read_bytes()

    def _kid(self) -> str:
        return "demo-" + str(uuid.uuid5(uuid.NAMESPACE_URL, self._private_pem().decode()))[:8]

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        private = serialization.load_pem_private_key(self._private_pem(), password=None)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)  # type: ignore[arg-type]
        jwk.update(kid=self._kid(), alg="RS256", use="sig")
        return {"keys": [jwk]}

    # -- registration -------------------------------------------------------------------------
    def ensure_registered(self, session: Session) -> Platform:
        found = platforms.find_platform(session, self.issuer, CLIENT_ID)
        if found is not None and found.deployments:
            if not found.course_url_template:
                found.course_url_template = COURSE_URL_TEMPLATE
            return found
        platform, _ = platforms.add_or_update_platform(
            session,
            platforms.PlatformSpec(
                issuer=self.issuer,
                client_id=CLIENT_ID,
                auth_login_url=self.lms_url + "/demo/auth",
                auth_token_url=self.lms_url + "/demo/token",
                key_set_url=self.lms_url + "/demo/jwks",
                deployment_ids=(DEPLOYMENT_ID,),
                name="Demo LMS",
            ),
        )
        platform.course_url_template = COURSE_URL_TEMPLATE
        return platform

    # -- resource links -----------------------------------------------------------------------
    def links(self, course_id: str) -> list[dict[str, Any]]:
        stored = self._stored_links()
        default = [{"id": f"{course_id}-wom", "title": "Word of Mouth", "custom": {}}]
        return stored.get(course_id, default)

    def add_links(self, course_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stored = self._stored_links()
        links = stored.get(course_id) or self.links(course_id)
        added = []
        for item in items:
            if item.get("type") != "ltiResourceLink":
                continue
            link = {
                "id": f"{course_id}-{uuid.uuid4().hex[:8]}",
                "title": str(item.get("title") or "Word of Mouth"),
                "custom": {str(k): str(v) for k, v in (item.get("custom") or {}).items()},
            }
            links.append(link)
            added.append(link)
        stored[course_id] = links
        (self.folder / LINKS_FILE).write_text(json.dumps(stored, indent=2), encoding="utf-8")
        return added

    def _stored_links(self) -> dict[str, list[dict[str, Any]]]:
        path = self.folder / LINKS_FILE
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return {}

    # -- the launch ---------------------------------------------------------------------------
    def login_url(self, who: DemoUser, where: DemoCourse, link_id: str) -> str:
        from urllib.parse import urlencode

        query = {
            "iss": self.issuer,
            "login_hint": who.id,
            "target_link_uri": self.tool_url + "/lti/launch",
            "lti_message_hint": f"{where.id}|{link_id}",
            "client_id": CLIENT_ID,
            "lti_deployment_id": DEPLOYMENT_ID,
        }
        return f"{self.tool_url}/lti/login?{urlencode(query)}"

    def id_token(self, who: DemoUser, where: DemoCourse, link_id: str, nonce: str) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": who.id,
            "iat": now,
            "exp": now + 60,
            "nonce": nonce,
            "name": who.name,
            "given_name": who.given_name,
            "family_name": who.family_name,
            "email": who.email,
            claims.VERSION: "1.3.0",
            claims.DEPLOYMENT_ID: DEPLOYMENT_ID,
            claims.TARGET_LINK_URI: self.tool_url + "/lti/launch",
            claims.ROLES: [INSTRUCTOR if who.instructor else LEARNER],
            claims.CONTEXT: {"id": where.id, "title": where.title, "label": where.label, "type": ["CourseOffering"]},
            claims.LAUNCH_PRESENTATION: {
                "document_target": "iframe",
                "locale": who.locale,
                "return_url": f"{self.lms_url}/demo/course/{where.id}",
            },
            claims.TOOL_PLATFORM: {
                "guid": "wom-demo-lms",
                "name": "Word of Mouth demo LMS",
                "product_family_code": "demo",
            },
        }
        if link_id == DEEP_LINKING:
            body[claims.MESSAGE_TYPE] = claims.DEEP_LINKING_REQUEST
            body[claims.DEEP_LINKING_SETTINGS] = {
                "deep_link_return_url": f"{self.lms_url}/demo/deep-link-return?course={where.id}",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe"],
                "accept_multiple": True,
                "data": where.id,
            }
        else:
            link = next((x for x in self.links(where.id) if x["id"] == link_id), None)
            if link is None:
                raise LookupError(f"no link {link_id} in course {where.id}")
            body[claims.MESSAGE_TYPE] = claims.RESOURCE_LINK_REQUEST
            body[claims.RESOURCE_LINK] = {"id": link["id"], "title": link["title"]}
            body[claims.CUSTOM] = {**link["custom"], "department": who.department}
        return jwt.encode(body, self._private_pem(), algorithm="RS256", headers={"kid": self._kid()})
