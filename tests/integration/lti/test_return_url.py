"""Deep linking: the platform's deep_link_return_url becomes a form action only when it is http(s)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lti.errors import LaunchError
from lti.validation import check_return_url
from plugin.models import Placement
from tests.integration.lti.conftest import Tool
from tests.integration.lti.test_deep_linking import DL, deep_linking_claims
from tests.support.lti_platform import LmsPlatform

BAD = [
    "javascript:alert(document.domain)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://lms.example.org/return",
    "//lms.example.org/return",
    "/relative/return",
    "https://",
    "https://lms.example.org/ret urn",
    "https://lms.example.org/" + "x" * 3000,
    42,
    ["https://lms.example.org/return"],
]


@pytest.mark.parametrize("return_url", BAD, ids=lambda v: repr(v)[:30])
def test_a_return_url_that_is_not_http_is_refused(tool: Tool, lms: LmsPlatform, browser, return_url: object) -> None:
    claims = deep_linking_claims(lms)
    claims[DL + "deep_linking_settings"]["deep_link_return_url"] = return_url
    response = lms.launch(browser, tool.url, claims=claims)
    assert response.status_code == 400, response.text
    assert "deep_link_return_url is not an absolute http or https URL" in response.text
    assert "<form" not in response.text
    session = tool.session()
    assert session.scalars(select(Placement)).all() == []
    session.close()


def test_production_accepts_https_only() -> None:
    assert check_return_url("https://lms.example.org/r", require_https=True) == "https://lms.example.org/r"
    assert check_return_url("http://lms.example.org/r", require_https=False) == "http://lms.example.org/r"
    with pytest.raises(LaunchError, match="not an absolute https URL"):
        check_return_url("http://lms.example.org/r", require_https=True)
