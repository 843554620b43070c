"""Origins are normalised to the exact text a CSP host source needs; anything else is refused."""

from __future__ import annotations

import pytest

from plugin.errors import DomainError
from plugin.services.platform_origins import issuer_origin, normalise_origin, origin_of


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://LMS.Example.org", "https://lms.example.org"),
        ("HTTPS://lms.example.org/", "https://lms.example.org"),
        ("https://lms.example.org:443", "https://lms.example.org"),
        ("http://lms.example.org:80", "http://lms.example.org"),
        ("http://lms.example.org:443", "http://lms.example.org:443"),
        ("https://lms.example.org:8443", "https://lms.example.org:8443"),
        ("  http://127.0.0.1:5000 ", "http://127.0.0.1:5000"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_origins_are_normalised(given: str, expected: str) -> None:
    assert normalise_origin(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "lms.example.org",
        "//lms.example.org",
        "ftp://lms.example.org",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https://",
        "https://user:pw@lms.example.org",
        "https://lms.example.org/courses",
        "https://lms.example.org?x=1",
        "https://lms.example.org#top",
        "https://*.example.org",
        "https://lms.example.org; script-src *",
        "https://lms.example.org 'unsafe-inline'",
        "https://lms'.example.org",
        "https://lms.example.org:99999",
        "https://lms.example.org:port",
        "https://lms..example.org",
        "https://lms_1.example.org",
        "https://lms.example.org\r\nSet-Cookie: x=1",
        "https://" + "a" * 300 + ".example",
    ],
)
def test_garbage_and_paths_are_refused(given: str) -> None:
    with pytest.raises(DomainError):
        normalise_origin(given)


def test_the_origin_of_a_url_drops_path_query_and_fragment() -> None:
    url = "https://Customer.Instructure.com:443/courses/7/external_content/success/external_tool_redirect?x=1#y"
    assert origin_of(url) == "https://customer.instructure.com"
    with pytest.raises(DomainError):
        origin_of("/courses/7")
    with pytest.raises(DomainError):
        origin_of("https://a b.example/x")


def test_issuer_origin_is_none_for_a_non_url_issuer() -> None:
    assert issuer_origin("https://moodle.example.org/moodle") == "https://moodle.example.org"
    assert issuer_origin("urn:example:lms") is None
