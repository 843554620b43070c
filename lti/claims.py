"""LTI 1.3 claim names (https://www.imsglobal.org/spec/lti/v1p3/#required-message-claims)."""

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
LAUNCH_PRESENTATION = LTI + "launch_presentation"
TOOL_PLATFORM = LTI + "tool_platform"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
# Names and Role Provisioning Services 2.0 (https://www.imsglobal.org/spec/lti-nrps/v2p0).
NAMES_ROLES = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
NAMES_ROLES_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
SUPPORTED_MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)

ROLE_PREFIX_CONTEXT = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
ROLE_PREFIX_INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
ROLE_PREFIX_SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
STAFF_ROLES = {
    ROLE_PREFIX_CONTEXT + "Instructor",
    ROLE_PREFIX_CONTEXT + "ContentDeveloper",
    ROLE_PREFIX_CONTEXT + "Administrator",
    ROLE_PREFIX_CONTEXT + "Instructor#TeachingAssistant",
    ROLE_PREFIX_INSTITUTION + "Administrator",
    ROLE_PREFIX_SYSTEM + "Administrator",
    ROLE_PREFIX_SYSTEM + "SysAdmin",
}
# Short forms some platforms send for context roles (allowed by the spec for context roles).
SHORT_STAFF_ROLES = {"Instructor", "ContentDeveloper", "Administrator", "TeachingAssistant"}


def is_staff(roles: tuple[str, ...] | list[str]) -> bool:
    """Instructors, content developers and administrators configure and moderate."""
    return any(r in STAFF_ROLES or r in SHORT_STAFF_ROLES for r in roles)
