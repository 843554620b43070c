"""``wordofmouth platform`` and ``wordofmouth keys``, as an LMS admin uses them."""

from __future__ import annotations

import json

from flask import Flask

from tests.integration.lti.conftest import Tool
from tests.support.lti_platform import LmsPlatform

ADD = [
    "platform",
    "add",
    "--issuer",
    "https://moodle.example.org",
    "--client-id",
    "abc123",
    "--deployment-id",
    "7",
    "--auth-login-url",
    "https://moodle.example.org/mod/lti/auth.php",
    "--auth-token-url",
    "https://moodle.example.org/mod/lti/token.php",
    "--keyset-url",
    "https://moodle.example.org/mod/lti/certs.php",
]


def listed(app: Flask) -> list[dict]:
    result = app.test_cli_runner().invoke(args=["platform", "list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_add_list_update_remove(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=ADD)
    assert result.exit_code == 0, result.output
    assert "registered moodle.example.org" in result.output
    assert listed(app) == [
        {
            "name": "moodle.example.org",
            "issuer": "https://moodle.example.org",
            "client_id": "abc123",
            "deployment_ids": ["7"],
            "auth_login_url": "https://moodle.example.org/mod/lti/auth.php",
            "auth_token_url": "https://moodle.example.org/mod/lti/token.php",
            "key_set_url": "https://moodle.example.org/mod/lti/certs.php",
            "show_names_default": False,
            "course_url_template": None,
            "enabled": True,
            "auto_accept_deployments": False,
            "registered_via": "manual",
        }
    ]
    result = runner.invoke(args=[*ADD, "--deployment-id", "8", "--name", "Moodle"])
    assert result.exit_code == 0 and "updated Moodle" in result.output
    assert listed(app)[0]["deployment_ids"] == ["7", "8"]

    second_client = [*ADD]
    second_client[second_client.index("abc123")] = "def456"
    assert runner.invoke(args=second_client).exit_code == 0
    assert [p["client_id"] for p in listed(app)] == ["abc123", "def456"]

    result = runner.invoke(args=["platform", "remove", "https://moodle.example.org", "--client-id", "abc123", "--yes"])
    assert result.exit_code == 0, result.output
    assert [p["client_id"] for p in listed(app)] == ["def456"]
    human = runner.invoke(args=["platform", "list"]).output
    assert "client id:     def456" in human


def test_remove_asks_before_deleting_data(app: Flask) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=ADD)
    result = runner.invoke(
        args=["platform", "remove", "https://moodle.example.org", "--client-id", "abc123"], input="n\n"
    )
    assert result.exit_code != 0
    assert len(listed(app)) == 1


def test_bad_registrations_are_refused_clearly(app: Flask) -> None:
    runner = app.test_cli_runner()
    bad_url = [*ADD]
    bad_url[bad_url.index("https://moodle.example.org/mod/lti/certs.php")] = "certs.php"
    result = runner.invoke(args=bad_url)
    assert result.exit_code == 2
    assert "the key set URL must be an absolute http(s) URL" in result.output
    result = runner.invoke(args=["platform", "remove", "https://nowhere.example", "--client-id", "x", "--yes"])
    assert result.exit_code == 2
    assert "no platform registered with issuer https://nowhere.example" in result.output
    assert listed(app) == []


def test_keys_list_and_rotate(app: Flask) -> None:
    runner = app.test_cli_runner()
    before = runner.invoke(args=["keys", "list"]).output.splitlines()
    assert [line.split()[1] for line in before] == ["active", "next"]
    rotated = runner.invoke(args=["keys", "rotate"])
    assert rotated.exit_code == 0
    after = runner.invoke(args=["keys", "list"]).output.splitlines()
    assert [line.split()[1] for line in after] == ["retired", "active", "next"]
    assert after[1].split()[0] == before[1].split()[0]  # the published next key now signs


def test_urls_lists_the_lti_endpoints(app: Flask) -> None:
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from plugin.cli import main

    output = CliRunner().invoke(main, ["urls"], obj=ScriptInfo(create_app=lambda: app)).output
    for url in ("http://localhost/lti/login", "http://localhost/lti/launch", "http://localhost/lti/jwks"):
        assert url in output


def test_key_set_fetch_sends_a_user_agent(tool: Tool, lms: LmsPlatform, browser) -> None:
    assert lms.launch(browser, tool.url).status_code == 200
    assert lms.jwks_user_agents and lms.jwks_user_agents[0].startswith("WordOfMouth-LTI/")
