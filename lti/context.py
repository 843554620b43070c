"""The frozen result of a validated launch, handed to views and services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lti import claims


@dataclass(frozen=True)
class LaunchContext:
    platform_id: int
    issuer: str
    client_id: str
    deployment_id: str
    message_type: str
    sub: str
    roles: tuple[str, ...]
    name: str
    email: str | None
    locale: str | None
    context_id: str | None
    context_title: str
    context_label: str
    resource_link_id: str | None
    resource_link_title: str
    custom: dict[str, str] = field(default_factory=dict)
    deep_linking_settings: dict[str, Any] | None = None
    return_url: str | None = None
    # NRPS: the roster of this context, fetched later by the worker (never during the launch).
    memberships_url: str | None = None
    browser_bound: bool = False

    @property
    def is_staff(self) -> bool:
        return claims.is_staff(self.roles)

    @property
    def is_deep_linking(self) -> bool:
        return self.message_type == claims.DEEP_LINKING_REQUEST
