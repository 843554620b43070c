"""Recommendation builds as a worker job and a command: one platform per transaction.

Each platform is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, see
:func:`plugin.services.recommendations.claim`), rebuilt when its data changed, and committed on
its own, so several workers share the platforms of a large deployment and a killed build leaves
the previous results in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask

from plugin.services import recommendations

log = logging.getLogger("wordofmouth.recommend")


def build_platforms(
    app: Flask,
    *,
    issuer: str | None = None,
    force: bool = False,
    report: Callable[[recommendations.BuildResult], None] | None = None,
) -> dict[str, int]:
    """Rebuild every platform (or those of ``issuer``) whose data changed; counts for the log."""
    sessions = app.extensions["wordofmouth.sessions"]
    with sessions() as session:
        platform_ids = recommendations.platforms(session, issuer)
    counts = {"built": 0, "unchanged": 0, "busy": 0}
    for platform_id in platform_ids:
        with sessions() as session:
            if recommendations.claim(session, platform_id) is None:
                counts["busy"] += 1
                continue
            result = recommendations.build(session, platform_id, force=force)
            session.commit()
        counts["built" if result.built else "unchanged"] += 1
        if report is not None:
            report(result)
        if result.built:
            log.info(
                "recommendations built: platform=%d learners=%d items=%d interactions=%d seconds=%.2f",
                result.platform_id,
                result.learners,
                result.items,
                result.interactions,
                result.seconds,
            )
    return counts


def recommend_build_job(app: Flask) -> dict[str, int]:
    return build_platforms(app)
