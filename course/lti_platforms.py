"""The LMS platforms this course is registered with over LTI 1.3 (the course file's ``lti:``).

What an LMS admin hands back after registering the tool: per platform its issuer, the client id
it gave the tool, the deployment id(s), its OIDC login (authorize), OAuth2 token and key set
(JWKS) URLs, and the LMS courses (contexts) that are this course, each with its roster (Names
and Role Provisioning) and grade book (Assignment and Grade Services line items) URLs, which
the LMS shows on the tool's details page or sends in every launch. None of it is secret: the
tool's private keys live in the key folder (``key_folder``), never in the course file or
its folder.

    lti:
      platforms:
        - name: moodle
          issuer: https://moodle.example.edu
          client_id: kT8s2rVq
          deployment_ids: ["3"]
          auth_login_url: https://moodle.example.edu/mod/lti/auth.php
          auth_token_url: https://moodle.example.edu/mod/lti/token.php
          key_set_url: https://moodle.example.edu/mod/lti/certs.php
          contexts:
            - id: "42"
              memberships_url: https://moodle.example.edu/mod/lti/services.php/CourseSection/42/bindings/3/memberships
              lineitems_url: https://moodle.example.edu/mod/lti/services.php/42/lineitems?type_id=3
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = ["KEY_DIR_ENV", "LtiContext", "LtiSettings", "PlatformRegistration", "key_folder"]

KEY_DIR_ENV = "COURSE_LTI_KEY_DIR"
KEY_DIR_SUFFIX = "-lti-keys"  # <course folder>-lti-keys, when $COURSE_LTI_KEY_DIR is not set


LOOPBACK = ("127.0.0.1", "localhost", "::1")  # plain http only here: a test's own platform


def _web_url(value: str) -> str:
    """An https:// URL: tokens, keys and grades travel over it. Plain http only to this very
    machine (``LOOPBACK``), where nothing travels over a network."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise ValueError("should be an https:// URL") from None
    if parts.scheme == "https" and host:
        return value
    if parts.scheme == "http" and host in LOOPBACK:
        return value
    raise ValueError("should be an https:// URL (plain http only to 127.0.0.1, localhost "
                     "or ::1)")


Url = Annotated[str, AfterValidator(_web_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _context_mapping(value: Any) -> Any:
    """``contexts: ["42"]`` is short for ``contexts: [{id: "42"}]``."""
    return {"id": value} if isinstance(value, (str, int)) else value


class LtiContext(_Strict):
    id: str = Field(min_length=1, description="the LMS course's context id (the launch's "
                    "context claim) that is this course")
    memberships_url: Url | None = Field(None, description="its Names and Role Provisioning "
                                        "URL (course roster pull-lti)")
    lineitems_url: Url | None = Field(None, description="its Assignment and Grade Services "
                                      "line items URL (course lms push)")

    @model_validator(mode="before")
    @classmethod
    def _text_id(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("id"), int):
            return {**value, "id": str(value["id"])}
        return value


class PlatformRegistration(_Strict):
    name: str = Field("", description="a short name for the platform in reports (default: "
                      "its issuer)")
    issuer: Url = Field(description="the platform's issuer (the id_token's iss)")
    client_id: str = Field(min_length=1, description="the client id the platform gave the tool")
    deployment_ids: list[str] = Field(min_length=1, description="the deployment id(s) of the "
                                      "tool on the platform")
    auth_login_url: Url = Field(description="the platform's OIDC authorization (login) URL")
    auth_token_url: Url = Field(description="the platform's OAuth2 token URL (service calls)")
    key_set_url: Url = Field(description="the platform's public keys (JWKS URL)")
    contexts: list[Annotated[LtiContext, BeforeValidator(_context_mapping)]] = Field(
        [], description="the LMS courses (context ids) that are this course")

    @property
    def label(self) -> str:
        return self.name or self.issuer

    def context(self, context_id: str) -> LtiContext | None:
        return next((c for c in self.contexts if c.id == context_id), None)

    @model_validator(mode="after")
    def _unique_contexts(self) -> PlatformRegistration:
        ids = [context.id for context in self.contexts]
        if twice := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"context id(s) listed twice: {', '.join(twice)}")
        return self


class LtiSettings(_Strict):
    platforms: list[PlatformRegistration] = []

    def platform(self, issuer: str, client_id: str | None = None) -> PlatformRegistration | None:
        """The registration of ``issuer`` (and ``client_id``, when a launch names it)."""
        return next((p for p in self.platforms if p.issuer == issuer
                     and (client_id is None or p.client_id == client_id)), None)

    @model_validator(mode="after")
    def _unique_platforms(self) -> LtiSettings:
        seen: set[tuple[str, str]] = set()
        names: set[str] = set()
        for platform in self.platforms:
            key = (platform.issuer, platform.client_id)
            if key in seen:
                raise ValueError(f"platform {platform.issuer} with client_id "
                                 f"{platform.client_id!r} is registered twice")
            if platform.label in names:
                raise ValueError(f"two platforms are named {platform.label!r}")
            seen.add(key)
            names.add(platform.label)
        return self


def key_folder(course_file: Path) -> Path:
    """Where the tool's private keys live: ``$COURSE_LTI_KEY_DIR`` (a deployment secret's
    mount), else ``<course folder>-lti-keys`` beside the course folder: never inside it, whose
    files the formgrader lets the course's graders read (a key signs grades into the LMS)."""
    configured = os.environ.get(KEY_DIR_ENV)
    if configured:
        return Path(configured)
    folder = Path(course_file).resolve().parent
    return folder.with_name(folder.name + KEY_DIR_SUFFIX)
