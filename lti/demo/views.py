"""The demo LMS's pages: pick a person, open a course, see the tool launched in an iframe."""

from __future__ import annotations

import jwt
from flask import Blueprint, Response, current_app, jsonify, make_response, render_template, request, url_for
from jwt.algorithms import RSAAlgorithm

from lti.demo import platform as demo
from lti.errors import LaunchError
from plugin.services import tool_keys
from plugin.web import db_session, get_settings

PERSON_COOKIE = "wom_demo_person"  # who is signed in to the demo LMS, for links that do not say

demo_bp = Blueprint(
    "demo", __name__, url_prefix="/demo", template_folder="templates", static_folder="static", static_url_path="/static"
)


def _demo() -> demo.DemoPlatform:
    platform = demo.DemoPlatform(get_settings(current_app))
    platform.ensure_registered(db_session())
    return platform


@demo_bp.after_request
def allow_framing_the_tool(response: Response) -> Response:
    """The demo LMS frames the tool, which may sit on another origin (another site in tests)."""
    from plugin.web import CONTENT_SECURITY_POLICY

    tool = get_settings(current_app).base_url
    policy = CONTENT_SECURITY_POLICY.replace("frame-src 'self'", f"frame-src 'self' {tool}")
    if request.endpoint == "demo.auth":
        # Like a real LMS's authorization endpoint, it answers inside whatever frame started the login.
        policy += "; frame-ancestors *"
    response.headers["Content-Security-Policy"] = policy
    return response


@demo_bp.get("/")
def index() -> str:
    platform = _demo()
    return render_template("demo/index.html", users=demo.USERS, courses=demo.COURSES, issuer=platform.issuer)


@demo_bp.get("/course/<course_id>")
def course(course_id: str) -> Response | tuple[str, int]:
    """A course page. The person stays signed in across courses (the tool's links to other
    courses, such as its recommendations, carry no ``?as=``); Ada when no one is yet."""
    platform = _demo()
    where = demo.course(course_id)
    who = demo.user(request.args.get("as") or request.cookies.get(PERSON_COOKIE) or "ada")
    if where is None or who is None:
        return render_template(
            "problem.html", status=404, title="Not found", detail="No such course or person in the demo LMS."
        ), 404
    links = platform.links(where.id)
    chosen = request.args.get("link")
    if chosen == demo.DEEP_LINKING and who.instructor:
        frame_title, link_id = "Add Word of Mouth widgets", demo.DEEP_LINKING
    else:
        link = next((x for x in links if x["id"] == chosen), links[0])
        frame_title, link_id = link["title"], link["id"]
    page = render_template(
        "demo/course.html",
        course=where,
        who=who,
        users=demo.USERS,
        courses=demo.COURSES,
        links=links,
        link_id=link_id,
        frame_title=frame_title,
        frame_src=platform.login_url(who, where, link_id),
    )
    response = make_response(page)
    response.set_cookie(PERSON_COOKIE, who.id, httponly=True, samesite="Lax")
    return response


@demo_bp.get("/auth")
def auth() -> str:
    """The platform's OIDC authorization endpoint: answers with an auto-posted id_token."""
    platform = _demo()
    params = request.args
    expected_redirect = platform.tool_url + "/lti/launch"
    problems = []
    if params.get("client_id") != demo.CLIENT_ID:
        problems.append("unknown client_id")
    if params.get("redirect_uri") != expected_redirect:
        problems.append("redirect_uri is not the registered launch URL")
    if params.get("response_type") != "id_token" or params.get("scope") != "openid":
        problems.append("response_type must be id_token and scope openid")
    if not params.get("nonce") or not params.get("state"):
        problems.append("state and nonce are required")
    who = demo.user(params.get("login_hint", ""))
    course_id, _, link_id = params.get("lti_message_hint", "").partition("|")
    where = demo.course(course_id)
    if who is None or where is None:
        problems.append("unknown login_hint or lti_message_hint")
    if problems:
        raise LaunchError("the demo LMS refused the authentication request: " + "; ".join(problems))
    try:
        id_token = platform.id_token(who, where, link_id, params["nonce"])  # type: ignore[arg-type]
    except LookupError as exc:
        raise LaunchError(str(exc)) from exc
    return render_template("demo/auth_post.html", action=expected_redirect, id_token=id_token, state=params["state"])


@demo_bp.get("/jwks")
def jwks() -> Response:
    return jsonify(_demo().jwks())


@demo_bp.post("/token")
def token() -> tuple[Response, int]:
    return jsonify(error="unsupported_grant_type", error_description="the demo LMS offers no services"), 400


@demo_bp.post("/deep-link-return")
def deep_link_return() -> Response | tuple[str, int]:
    """Verify the tool's signed response with its published keys and add the links to the course."""
    platform = _demo()
    where = demo.course(request.args.get("course", ""))
    token_value = request.form.get("JWT", "")
    try:
        kid = jwt.get_unverified_header(token_value).get("kid")
        keys = {k["kid"]: k for k in tool_keys.public_jwks(db_session())["keys"]}
        message = jwt.decode(
            token_value,
            RSAAlgorithm.from_jwk(keys[kid]),
            algorithms=["RS256"],  # type: ignore[arg-type]
            audience=platform.issuer,
            issuer=demo.CLIENT_ID,
        )
    except (jwt.InvalidTokenError, KeyError) as exc:
        raise LaunchError(f"the demo LMS could not verify the deep linking response: {exc}") from exc
    if where is None or message.get("https://purl.imsglobal.org/spec/lti-dl/claim/data") != where.id:
        raise LaunchError("the deep linking response does not belong to this course")
    added = platform.add_links(where.id, message.get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", []))
    target = url_for("demo.course", course_id=where.id, **{"as": "ines", "link": added[0]["id"] if added else None})
    return render_template("demo/returned.html", added=added, target=target)


@demo_bp.errorhandler(LaunchError)
def demo_refused(exc: LaunchError) -> tuple[str, int]:
    return render_template("problem.html", status=exc.status, title="Demo LMS", detail=exc.detail), exc.status
