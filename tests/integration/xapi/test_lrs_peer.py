"""The test LRS (tests/support/lrs.py) is a real, strict xAPI peer that listens on loopback only.

These tests pin the answers other tests rely on. They use no database, so they run once.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.lrs import RunningLrs

VERB = "http://adlnet.gov/expapi/verbs/experienced"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def statement(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": "mailto:learner@example.org", "name": "Learner"},
        "verb": {"id": VERB, "display": {"en-US": "experienced"}},
        "object": {"objectType": "Activity", "id": "https://example.org/courses/1/items/7"},
        "timestamp": "2024-05-01T10:00:00.000Z",
    }
    body.update(fields)
    return body


def error_of(response: requests.Response) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    body = response.json()
    uuid.UUID(body["errorId"])
    return body


# --- loopback only ---------------------------------------------------------------------------------------


def non_loopback_addresses() -> set[str]:
    """This machine's IPv4 addresses outside 127.0.0.0/8 (no packet is sent to find them)."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        found.update(socket.gethostbyname_ex(socket.gethostname())[2])
    for target in ("203.0.113.1", "198.51.100.1", "10.254.254.254"):  # unicast documentation/private addresses
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, contextlib.suppress(OSError):
            probe.connect((target, 9))  # a UDP connect only picks the outgoing address; nothing is sent
            found.add(probe.getsockname()[0])
    return {address for address in found if not address.startswith("127.") and address != "0.0.0.0"}


def listening_addresses(port: int) -> list[str]:
    """The local addresses of the sockets listening on ``port``, from /proc/net/tcp and tcp6 (hex as there)."""
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, _remote, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.append(address)
    return addresses


def test_the_lrs_socket_is_bound_to_127_0_0_1_only(lrs: RunningLrs) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system")
    # 0100007F is 127.0.0.1 in the kernel's little-endian hex; not 00000000 (all IPv4) nor any tcp6 (::).
    assert listening_addresses(lrs.port) == ["0100007F"]


def test_the_lrs_refuses_connections_on_the_machines_other_addresses(lrs: RunningLrs) -> None:
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address (the /proc test covers the binding)")
    for address in sorted(addresses):
        with pytest.raises(ConnectionRefusedError), socket.create_connection((address, lrs.port), timeout=5):
            pass
    with socket.create_connection(("127.0.0.1", lrs.port), timeout=5):
        pass


# --- stored and read back --------------------------------------------------------------------------------


def test_a_valid_statement_is_stored_and_read_back_by_id(lrs: RunningLrs) -> None:
    sent = statement(result={"score": {"scaled": 0.8, "raw": 4, "min": 1, "max": 5}})
    response = lrs.post_statements([sent])
    assert response.status_code == 200, response.text
    assert response.json() == [sent["id"]]

    stored = lrs.get_statement(sent["id"])
    assert stored is not None
    for key in ("id", "actor", "verb", "object", "result", "timestamp"):
        assert stored[key] == sent[key]
    assert stored["authority"] == {"objectType": "Agent", "mbox": "mailto:client@example.org"}
    assert stored["stored"].endswith("Z")
    assert lrs.get_statements() == [stored]


def test_a_batch_answers_the_ids_in_order_including_generated_ones(lrs: RunningLrs) -> None:
    first = statement()
    no_id = statement()
    del no_id["id"]
    response = lrs.post_statements([first, no_id])
    assert response.status_code == 200, response.text
    ids = response.json()
    assert ids[0] == first["id"]
    assert len(ids) == 2
    uuid.UUID(ids[1])
    assert {s["id"] for s in lrs.get_statements()} == set(ids)


def test_get_statements_follows_more_links_and_keeps_the_query(lrs: RunningLrs) -> None:
    ours = [statement() for _ in range(5)]
    other = statement(actor={"objectType": "Agent", "mbox": "mailto:someone-else@example.org"})
    assert lrs.post_statements([*ours, other]).status_code == 200

    page = requests.get(lrs.statements_url, params={"limit": 2}, headers=lrs.headers, auth=lrs.auth, timeout=30)
    assert page.status_code == 200
    assert page.headers["X-Experience-API-Consistent-Through"]
    assert page.json()["more"].startswith("/xAPI/statements?limit=2&cursor=")

    found = lrs.get_statements(agent={"mbox": "mailto:learner@example.org"}, limit=2)
    assert sorted(s["id"] for s in found) == sorted(s["id"] for s in ours)
    assert len(lrs.get_statements(limit=4)) == 6


# --- strict: refused with 400 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"timestamp": "2024-05-01T10:00:00"}, "statements.0.timestamp"),
        ({"verb": {"id": "experienced", "display": {"en-US": "experienced"}}}, "statements.0.verb.id"),
        ({"result": {"score": {"scaled": 1.5}}}, "statements.0.result.score.scaled"),
        ({"result": {"score": {"raw": 7, "min": 1, "max": 5}}}, "statements.0.result.score"),
    ],
    ids=["timestamp-without-timezone", "verb-not-an-iri", "scaled-score-above-1", "raw-score-above-max"],
)
def test_an_invalid_statement_answers_400_with_warnings(lrs: RunningLrs, fields: dict, path: str) -> None:
    bad = statement(**fields)
    response = lrs.post_statements([bad])
    assert response.status_code == 400
    warnings = error_of(response)["warnings"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Problem in '{path}'. Received ")
    assert lrs.get_statements() == []


def test_a_batch_with_one_bad_statement_is_rejected_whole(lrs: RunningLrs) -> None:
    good = statement()
    bad = statement(verb={"id": "not an iri"})
    response = lrs.post_statements([good, bad])
    assert response.status_code == 400
    assert error_of(response)["warnings"] == ["Problem in 'statements.1.verb.id'. Received '\"not an iri\"'"]
    assert lrs.get_statement(good["id"]) is None
    assert lrs.get_statements() == []


def test_the_same_id_twice_in_one_batch_answers_400(lrs: RunningLrs) -> None:
    one = statement()
    response = lrs.post_statements([one, one])
    assert response.status_code == 400
    assert error_of(response)["message"] == f"{one['id']} is duplicated in the current batch"


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Experience-API-Version": "2.0.0"}],
    ids=["missing", "not-1.0.x"],
)
def test_a_request_without_a_1_0_version_header_is_refused(lrs: RunningLrs, headers: dict[str, str]) -> None:
    response = requests.post(lrs.statements_url, json=[statement()], headers=headers, auth=lrs.auth, timeout=30)
    assert response.status_code == 400
    assert response.json()["warnings"][0].startswith(
        ("Missing required value in 'header.X-Experience-API-Version'", "Problem in 'header.X-Experience-API-Version'")
    )
    read = requests.get(lrs.statements_url, headers=headers, auth=lrs.auth, timeout=30)
    assert read.status_code == 400
    assert lrs.get_statements() == []


# --- ids: conflicts, identical re-posts, voiding ------------------------------------------------------------


def test_reposting_an_id_with_a_different_statement_answers_409(lrs: RunningLrs) -> None:
    original = statement()
    assert lrs.post_statements([original]).status_code == 200

    changed = {**original, "object": {"objectType": "Activity", "id": "https://example.org/courses/1/items/8"}}
    response = lrs.post_statements([changed])
    assert response.status_code == 409
    assert error_of(response)["message"] == f"{original['id']} is conflicting"

    # A batch holding a conflict is refused whole: its new statement is not stored either.
    new = statement()
    response = lrs.post_statements([new, changed])
    assert response.status_code == 409
    assert lrs.get_statement(new["id"]) is None

    # The same instant written differently is a different statement to this LRS (it hashes what was sent).
    response = lrs.post_statements([{**original, "timestamp": "2024-05-01T10:00:00.000+00:00"}])
    assert response.status_code == 409
    assert lrs.get_statement(original["id"])["object"] == original["object"]


def test_reposting_the_same_statement_is_accepted_and_stored_once(lrs: RunningLrs) -> None:
    original = statement()
    assert lrs.post_statements([original]).status_code == 200

    again = lrs.post_statements([original])
    assert again.status_code == 200
    assert again.json() == [original["id"]]

    new = statement()
    mixed = lrs.post_statements([new, original])
    assert mixed.status_code == 200
    assert mixed.json() == [new["id"], original["id"]]

    put = requests.put(
        lrs.statements_url,
        params={"statementId": original["id"]},
        json=original,
        headers=lrs.headers,
        auth=lrs.auth,
        timeout=30,
    )
    assert put.status_code == 204
    assert sorted(s["id"] for s in lrs.get_statements()) == sorted([original["id"], new["id"]])


def test_voiding_hides_a_statement_and_a_voider_cannot_be_voided(lrs: RunningLrs) -> None:
    target = statement()
    assert lrs.post_statements([target]).status_code == 200
    voider = statement(
        verb={"id": VOIDED, "display": {"en-US": "voided"}}, object={"objectType": "StatementRef", "id": target["id"]}
    )
    response = lrs.post_statements([voider])
    assert response.status_code == 200
    assert response.json() == [voider["id"]]

    assert lrs.get_statement(target["id"]) is None
    assert lrs.get_statement(target["id"], voided=True)["id"] == target["id"]
    assert [s["id"] for s in lrs.get_statements()] == [voider["id"]]

    unvoid = statement(verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": voider["id"]})
    response = lrs.post_statements([unvoid])
    assert response.status_code == 400
    assert error_of(response)["message"] == f"Voider cannot void another voider ({voider['id']})"


# --- the fixture itself -------------------------------------------------------------------------------------


def test_the_lrs_comes_back_on_the_same_port_empty(lrs: RunningLrs) -> None:
    assert lrs.endpoint == f"http://127.0.0.1:{lrs.port}/xAPI/"
    assert lrs.post_statements([statement()]).status_code == 200
    pid = lrs.process.popen.pid

    with lrs.down():
        assert not lrs.process.running
        with pytest.raises(requests.ConnectionError):
            lrs.post_statements([statement()])

    assert lrs.process.popen.pid != pid
    assert lrs.endpoint == f"http://127.0.0.1:{lrs.port}/xAPI/"
    assert lrs.get_statements() == []
    assert listening_addresses(lrs.port) in ([], ["0100007F"])  # [] only where /proc is missing
