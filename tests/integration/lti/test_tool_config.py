"""pylti1p3 reads registrations and deployments from the database through our tool config."""

from __future__ import annotations

from pylti1p3.deep_link import DeepLink

from lti.tool_config import DatabaseToolConf
from tests.integration.lti.conftest import Tool, register
from tests.support.lti_platform import LmsPlatform


def test_registrations_and_deployments_come_from_the_registry(tool: Tool, lms: LmsPlatform) -> None:
    session = tool.session()
    try:
        conf = DatabaseToolConf(session)
        assert conf.check_iss_has_many_clients(lms.issuer)
        registration = conf.find_registration_by_params(lms.issuer, lms.client_id)
        assert registration.get_client_id() == lms.client_id
        assert registration.get_auth_token_url() == lms.issuer + "/token"
        assert registration.get_key_set_url() == lms.base_url + "/jwks"
        assert conf.find_registration_by_params(lms.issuer, "other-client") is None
        assert conf.find_deployment_by_params(lms.issuer, lms.deployment_id, lms.client_id).get_deployment_id() == (
            lms.deployment_id
        )
        assert conf.find_deployment_by_params(lms.issuer, "deployment-9", lms.client_id) is None
        # Issuer-only look-ups answer while the issuer has one registration, and not once it has two.
        assert conf.find_registration_by_issuer(lms.issuer).get_client_id() == lms.client_id
        assert conf.find_deployment(lms.issuer, lms.deployment_id).get_deployment_id() == lms.deployment_id
        assert conf.find_registration_by_issuer("https://unknown.example") is None
        # pylti1p3 signs with our active key, under the kid our JWKS publishes.
        kid = registration.get_kid()
        with tool.app.test_request_context():
            from plugin.services import tool_keys

            assert kid in {k["kid"] for k in tool_keys.public_jwks(session)["keys"]}
        assert DeepLink(registration, lms.deployment_id, {"deep_link_return_url": "x"}).get_response_jwt([])
        session.commit()  # keys made on first use; release the write lock before registering more
        register(tool, LmsPlatform(issuer=lms.issuer, client_id="second-client", base_url=lms.base_url))
        assert conf.find_registration_by_issuer(lms.issuer) is None
        assert conf.find_deployment(lms.issuer, lms.deployment_id) is None
    finally:
        session.close()
