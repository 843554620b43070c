"""Storing a registration made by LTI Dynamic Registration (the protocol is in ``lti/registration.py``).

The platform, its deployment (when the LMS gave one) and the page origin of the LMS that ran the
registration are written in the caller's transaction, together with the one-time token's use, so a
refused step leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from plugin.models import Platform
from plugin.models.platform import OriginSource
from plugin.services import platform_origins, platforms

MOODLE_COURSE_URL = "{issuer}/course/view.php?id={context_id}"  # Moodle's context id is the course id


def store(
    session: Session,
    spec: platforms.PlatformSpec,
    *,
    deployment_id: str | None,
    page_origin: str | None = None,
    course_url_template: str | None = None,
) -> tuple[Platform, bool]:
    """Add or update the registration; returns it and whether it is new.

    Without a deployment id, a registration that has none yet accepts the deployment of its first
    signed launch (``auto_accept_deployments``): the operator turns that off once it is known.
    """
    spec = replace(spec, deployment_ids=(deployment_id,) if deployment_id else ())
    platform, created = platforms.add_or_update_platform(session, spec, require_deployment=False)
    platform.registered_via = "dynamic"
    if not platform.deployments:
        platform.auto_accept_deployments = True
    if course_url_template and not platform.course_url_template:
        platform.course_url_template = platforms.check_course_url_template(course_url_template)
    session.flush()
    if page_origin:
        platform_origins.learn_origin(session, platform.id, page_origin, OriginSource.ADMIN)
    return platform, created
