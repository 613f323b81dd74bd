"""The tool's RSA keys: one signs its client assertions, the JWKS lists their public halves.

A key folder (``course.lti_platforms.key_folder``) holds one PEM file per key, named by its
``kid`` (``<UTC time>-<random>``, so names sort by age). Publish first, sign later:
``rotate`` adds a new key to the JWKS at once, but it signs only once it is ``PUBLISH_DELAY``
old, so a platform that cached the tool's key set knows it by then; until then the key before
it signs (a first key signs at once: no platform knows any). The one before stays in the
folder and in the JWKS, so an assertion signed a moment ago still verifies (no downtime); keys
older than that one move to ``retired/`` (kept, never published). A rotation while the newest
key is still waiting to sign is refused: it would retire the key that signs. The folder and
the files are readable by their owner only; a key file is written under a temporary name and
renamed, so no reader ever sees half of one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ...errors import UserError

__all__ = ["PUBLISH_DELAY", "ToolKey", "jwks", "list_keys", "rotate", "signing_key"]

# how long a new key is published before it signs: longer than platforms cache a tool's key
# set (Moodle and Canvas fetch it again within minutes to an hour)
PUBLISH_DELAY = dt.timedelta(hours=1)
SUFFIX = ".pem"
TEMPORARY = ".tmp"
RETIRED = "retired"
KEY_BITS = 2048


@dataclass(frozen=True)
class ToolKey:
    kid: str
    path: Path

    @property
    def made(self) -> dt.datetime:
        """When it was made: the time its kid starts with."""
        return dt.datetime.strptime(self.kid.split("-", 1)[0], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=dt.UTC)

    def signs_from(self) -> dt.datetime:
        return self.made + PUBLISH_DELAY

    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise UserError(f"{self.path} is not an RSA private key")
        return key

    def public_jwk(self) -> dict:
        """The public half as a JWK: only ``kty``, ``n``, ``e`` and the labels, nothing private."""
        from jwt.algorithms import RSAAlgorithm

        public = json.loads(RSAAlgorithm.to_jwk(self.private_key().public_key()))
        return {"kty": public["kty"], "n": public["n"], "e": public["e"], "kid": self.kid,
                "alg": "RS256", "use": "sig"}


def list_keys(folder: Path) -> list[ToolKey]:
    """The published keys, oldest first."""
    if not folder.is_dir():
        return []
    return [ToolKey(path.name.removesuffix(SUFFIX), path)
            for path in sorted(folder.glob(f"*{SUFFIX}"))]


def signing_key(folder: Path, now: dt.datetime | None = None) -> ToolKey:
    """The key that signs at ``now`` (default: the clock): the newest published
    ``PUBLISH_DELAY`` ago or longer, else the oldest published (the one before a new key; a
    first key signs at once)."""
    keys = list_keys(folder)
    if not keys:
        raise UserError(f"no LTI key in {folder}: run `course lti keys rotate` to make the "
                        "tool's first key (or set $COURSE_LTI_KEY_DIR to the folder holding it)")
    now = now or dt.datetime.now(dt.UTC)
    ready = [key for key in keys if key.signs_from() <= now]
    return ready[-1] if ready else keys[0]


def jwks(folder: Path) -> dict:
    """The JWKS document the tool publishes: the current key and the one before it."""
    return {"keys": [key.public_jwk() for key in list_keys(folder)]}


def rotate(folder: Path, now: dt.datetime) -> tuple[ToolKey, list[ToolKey]]:
    """Make a new key, published at once, signing from ``PUBLISH_DELAY`` on; returns it and the
    keys retired (all but the one before it)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    kid = f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    path = folder / f"{kid}{SUFFIX}"
    previous = list_keys(folder)
    if previous and previous[-1].kid >= kid:  # a clock gone backwards would break the order
        raise UserError(f"the newest key {previous[-1].kid} is dated after now "
                        f"({now:%Y-%m-%d %H:%M} UTC): check the clock")
    if len(previous) > 1 and previous[-1].signs_from() > now:
        raise UserError(f"the newest key {previous[-1].kid} does not sign yet (from "
                        f"{previous[-1].signs_from():%Y-%m-%d %H:%M} UTC, once platforms know "
                        f"it): rotating now would retire {previous[-2].kid}, which still signs; "
                        "rotate again after that")
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # a temporary name the key list skips, then one rename: the JWKS service and a push never
    # read half a key
    temporary = folder / f".{kid}{SUFFIX}{TEMPORARY}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    retired = previous[:-1]
    if retired:
        (folder / RETIRED).mkdir(mode=0o700, exist_ok=True)
        for old in retired:
            old.path.replace(folder / RETIRED / old.path.name)
    return ToolKey(kid, path), retired
