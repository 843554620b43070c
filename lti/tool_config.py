"""pylti1p3 tool configuration backed by the platform registry in the database.

pylti1p3 asks it for a registration when it signs for us (deep linking responses, service
tokens). Registrations are keyed by issuer *and* client id (``check_iss_has_many_clients``):
Canvas uses one issuer for all its customers.
"""

from __future__ import annotations

from typing import Any

from jwcrypto.jwk import JWK
from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy.orm import Session

from plugin.services import platforms, tool_keys


class DatabaseToolConf(ToolConfAbstract):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.issuers_relation_types = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration | None:
        """The issuer's registration when it has exactly one; None when it has none or several."""
        known = platforms.platforms_of_issuer(self._session, iss)
        return self.find_registration_by_params(iss, known[0].client_id) if len(known) == 1 else None

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any, **kwargs: Any) -> Registration | None:
        platform = platforms.find_platform(self._session, iss, client_id)
        if platform is None:
            return None
        key = tool_keys.signing_key(self._session)
        public_pem = JWK.from_pem(key.private_key_pem.encode()).export_to_pem().decode()
        return (
            Registration()
            .set_issuer(platform.issuer)
            .set_client_id(platform.client_id)
            .set_auth_login_url(platform.auth_login_url)
            .set_auth_token_url(platform.auth_token_url)
            .set_key_set_url(platform.key_set_url)
            .set_tool_private_key(key.private_key_pem)
            .set_tool_public_key(public_pem)
        )

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        """The deployment under the issuer's only registration (see ``find_registration_by_issuer``)."""
        known = platforms.platforms_of_issuer(self._session, iss)
        if len(known) != 1:
            return None
        return self.find_deployment_by_params(iss, deployment_id, known[0].client_id)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        platform = platforms.find_platform(self._session, iss, client_id)
        if platform is None or platforms.find_deployment(self._session, platform, deployment_id) is None:
            return None
        return LtiDeployment().set_deployment_id(deployment_id)
