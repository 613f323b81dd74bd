"""LTI 1.3 Advantage, the tool's side of the services: its keys (``keys``), the OAuth2 service
calls signed with them (``client``), the roster pulled over Names and Role Provisioning
(``roster_pull``) and the grades pushed over Assignment and Grade Services (``grade_push``).

The platform registrations (the course file's ``lti:``) are domain settings, so they live in
``course.lti_platforms`` (the course file's model imports them; the domain never imports a
stage such as this package); they are re-exported here for the hub's login side.
"""

from ...lti_platforms import KEY_DIR_ENV, LtiContext, LtiSettings, PlatformRegistration, key_folder

__all__ = ["KEY_DIR_ENV", "LtiContext", "LtiSettings", "PlatformRegistration", "key_folder"]
