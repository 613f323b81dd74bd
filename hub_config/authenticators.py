"""The authenticator, chosen by ``c.CourseHub.authenticator``.

simple
    JupyterHub's SharedPasswordAuthenticator: everyone in the roster logs in with one password
    (``c.CourseHub.simple_password``). Anyone who knows it can log in as anyone: local use only.
generic-oauth
    oauthenticator's GenericOAuthenticator (``pip install oauthenticator``), for a university's
    OpenID Connect / OAuth2 login. Set after ``apply(c)``::

        c.GenericOAuthenticator.client_id = "..."
        c.GenericOAuthenticator.client_secret = "..."
        c.GenericOAuthenticator.oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
        c.GenericOAuthenticator.authorize_url = "https://idp.example.org/authorize"
        c.GenericOAuthenticator.token_url = "https://idp.example.org/token"
        c.GenericOAuthenticator.userdata_url = "https://idp.example.org/userinfo"
        c.GenericOAuthenticator.username_claim = "preferred_username"  # = the roster's ids
        c.GenericOAuthenticator.scope = ["openid", "profile", "email"]
lti13
    ltiauthenticator's LTI13Authenticator (``pip install jupyterhub-ltiauthenticator``), to
    launch from the LMS (Moodle, Canvas, ...). Set after ``apply(c)``::

        c.LTI13Authenticator.issuer = "https://lms.example.org"
        c.LTI13Authenticator.authorize_url = "https://lms.example.org/mod/lti/auth.php"
        c.LTI13Authenticator.jwks_endpoint = "https://lms.example.org/mod/lti/certs.php"
        c.LTI13Authenticator.client_id = ["..."]
        c.LTI13Authenticator.username_key = "email"   # or a custom claim = the roster's ids

In every case only the roster's people may log in (``allowed_users``, set by ``apply``); user
names must be the roster's ids.
"""

from __future__ import annotations

from traitlets.config import Config

__all__ = ["AUTHENTICATORS", "configure_authenticator"]

# CourseHub.authenticator -> JupyterHub's entry-point name of the class
AUTHENTICATORS = {"simple": "shared-password", "generic-oauth": "generic-oauth",
                  "lti13": "ltiauthenticator.lti13.auth.LTI13Authenticator"}


def configure_authenticator(c: Config, hub) -> None:
    if not hub.authenticator:  # fail closed: no login anyone gets without choosing it
        raise ValueError("c.CourseHub.authenticator: choose how people log in "
                         "(generic-oauth | lti13 | simple, the shared password for a local "
                         "trial): there is no default")
    c.JupyterHub.authenticator_class = AUTHENTICATORS[hub.authenticator]
    if hub.authenticator == "simple":
        if len(hub.simple_password) < 8:
            raise ValueError("c.CourseHub.simple_password: at least 8 characters, please")
        c.SharedPasswordAuthenticator.user_password = hub.simple_password
