"""A running tool (real HTTP on loopback) and a registered test LMS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from flask import Flask

from plugin.app import create_app
from plugin.services import platforms
from tests.support.lti_platform import LmsPlatform, running_platform
from tests.support.processes import free_port
from tests.support.servers import serve


@dataclass
class Tool:
    url: str
    app: Flask

    def session(self):  # type: ignore[no-untyped-def]
        return self.app.extensions["wordofmouth.sessions"]()


@pytest.fixture
def tool(app_config: dict[str, str]) -> Iterator[Tool]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app({**app_config, "WOM_BASE_URL": url})
    with serve(app, port):
        yield Tool(url, app)
    app.extensions["wordofmouth.engine"].dispose()


def register(tool: Tool, platform: LmsPlatform) -> None:
    session = tool.session()
    try:
        platforms.add_or_update_platform(session, platforms.PlatformSpec(**platform.registration()))
        session.commit()
    finally:
        session.close()


@pytest.fixture
def lms(tool: Tool) -> Iterator[LmsPlatform]:
    with running_platform() as platform:
        register(tool, platform)
        yield platform


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
