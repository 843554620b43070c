"""The demo LMS: registered as an ordinary platform, refuses bad requests, absent unless enabled."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from plugin.app import create_app
from plugin.models import Platform


@pytest.fixture
def demo_app(app_config: dict[str, str]):  # type: ignore[no-untyped-def]
    app = create_app({**app_config, "WOM_DEMO": "1"})
    yield app
    app.extensions["wordofmouth.engine"].dispose()


def test_demo_registers_itself_as_a_platform(demo_app: Flask) -> None:
    page = demo_app.test_client().get("/demo/")
    assert page.status_code == 200
    assert "Open as Ada" in page.get_data(as_text=True)
    session = demo_app.extensions["wordofmouth.sessions"]()
    platform = session.scalars(select(Platform)).one()
    assert platform.issuer == "http://localhost/demo"
    assert [d.deployment_id for d in platform.deployments] == ["wom-demo-deployment"]
    session.close()
    keys = demo_app.test_client().get("/demo/jwks").get_json()["keys"]
    assert len(keys) == 1 and keys[0]["alg"] == "RS256" and "d" not in keys[0]


def test_demo_course_page_frames_the_tool_login(demo_app: Flask) -> None:
    page = demo_app.test_client().get("/demo/course/safety?as=ada").get_data(as_text=True)
    assert 'id="tool-frame"' in page
    assert "http://localhost/lti/login?iss=http%3A%2F%2Flocalhost%2Fdemo" in page
    assert "Add Word of Mouth widgets" not in page  # learners do not place widgets
    instructor = demo_app.test_client().get("/demo/course/safety?as=ines").get_data(as_text=True)
    assert "Add Word of Mouth widgets" in instructor


def test_demo_refuses_what_a_platform_would(demo_app: Flask) -> None:
    client = demo_app.test_client()
    assert client.get("/demo/course/nope?as=ada").status_code == 404
    refused = client.get("/demo/auth?client_id=x&redirect_uri=https://evil.example/&response_type=id_token")
    assert refused.status_code == 400
    assert "redirect_uri is not the registered launch URL" in refused.get_data(as_text=True)
    bad_return = client.post("/demo/deep-link-return?course=safety", data={"JWT": "junk"})
    assert bad_return.status_code == 400


def test_demo_is_absent_unless_enabled(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/demo/").status_code == 404


def test_demo_is_refused_in_production(tmp_path: Path) -> None:
    from plugin.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="WOM_DEMO must be off"):
        create_app(
            {
                "WOM_ENV": "production",
                "WOM_DEMO": "1",
                "WOM_SECRET_KEY": "p" * 40,
                "WOM_BASE_URL": "https://wom.example",
                "WOM_INSTANCE_PATH": str(tmp_path),
            }
        )
