"""Server-side OIDC login state: what a launch must present to be accepted, once.

A login (https://www.imsglobal.org/spec/security/v1p0/#step-2-authentication-request) issues a
``state`` and a ``nonce``; the platform echoes the state beside the id_token and puts the nonce
inside it. Keeping both here, not in a cookie or process memory, lets the launch land on any
worker or host and still be accepted exactly once, even when the browser drops third-party cookies.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, UTCDateTime, utcnow

URL = String(2048)


class LoginState(Base):
    __tablename__ = "lti_login_state"
    __table_args__ = (Index("ix_lti_login_state_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    # sha256 of the value of the partitioned cookie set at login; None when none could be set.
    browser_binding: Mapped[str | None] = mapped_column(String(64))
    target_link_uri: Mapped[str] = mapped_column(URL)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
