"""Bearer-token authentication for the HTTP APIs (DESIGN.md, Security).

Tokens are OIDC access tokens (Keycloak in production) verified against a JWKS with a fixed
algorithm list, issuer, audience and expiry. The caller's role and provider id come from
the token, never from the request body. A development issuer (`DevIssuer`) mints tokens for
the local stack, the demo and the tests; its keys live outside git.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import HTTPException, Request
from pydantic import BaseModel, Field

from durchstarten.events.reasons import ReasonCode

ALGORITHMS = ["ES256", "RS256"]  # fixed: never taken from the token header


class Role(StrEnum):
    """Who may do what: providers act for themselves, the ministry sees aggregates only."""

    PROVIDER = "provider"
    COORDINATOR = "coordinator"
    MINISTRY = "ministry"
    ADMIN = "admin"


class AuthSettings(BaseModel):
    """Where the verification keys come from and which issuer and audience to accept."""

    model_config = {"frozen": True}

    jwks_path: Path | None = Field(default=None, description="JWKS file (local stack).")
    jwks_url: str | None = Field(default=None, description="JWKS URL of the OIDC issuer.")
    issuer: str = Field(default="http://127.0.0.1/durchstarten-dev")
    audience: str = Field(default="durchstarten")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str
    roles: frozenset[Role]
    provider: str | None

    def require(self, *roles: Role) -> None:
        """Raise 403 unless the caller holds one of `roles`."""
        if not self.roles.intersection(roles):
            raise HTTPException(status_code=403, detail={"reason": ReasonCode.FORBIDDEN_ROLE})


class TokenVerifier:
    """Verifies bearer tokens; a FastAPI dependency via `principal`."""

    def __init__(self, settings: AuthSettings) -> None:
        """Load the JWKS once (file) or fetch keys lazily by key id (URL)."""
        self._settings = settings
        self._client = (
            jwt.PyJWKClient(settings.jwks_url, timeout=5, lifespan=300)
            if settings.jwks_url
            else None
        )
        self._keys: dict[str, jwt.PyJWK] = {}
        if settings.jwks_path is not None:
            jwks = jwt.PyJWKSet.from_json(settings.jwks_path.read_text())
            self._keys = {key.key_id: key for key in jwks.keys if key.key_id}
        if self._client is None and not self._keys:
            msg = "authentication needs a JWKS: set DURCHSTARTEN_AUTH_JWKS_PATH or _JWKS_URL"
            raise ValueError(msg)

    def verify(self, token: str) -> Principal:
        """Check signature, algorithm, issuer, audience and expiry; return the caller."""
        try:
            if self._client is not None:
                key = self._client.get_signing_key_from_jwt(token)
            else:
                kid = str(jwt.get_unverified_header(token).get("kid", ""))
                key = self._keys[kid]
            # A PyJWK key also pins the algorithm its JWK names: a token claiming another
            # algorithm for the same key id is refused.
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self._settings.issuer,
                audience=self._settings.audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            if claims.get("typ", "Bearer") not in ("Bearer", "at+jwt"):
                raise jwt.InvalidTokenError("not an access token")  # e.g. a Keycloak ID token
            raw_roles = claims.get("roles", [])
            if not isinstance(raw_roles, list):
                raise jwt.InvalidTokenError("roles is not a list")
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as error:
            raise HTTPException(
                status_code=401,
                detail={"reason": ReasonCode.INVALID_TOKEN, "message_en": type(error).__name__},
                headers={"WWW-Authenticate": "Bearer"},
            ) from None
        roles = frozenset(Role(r) for r in raw_roles if r in Role._value2member_map_)
        provider = claims.get("provider")
        if Role.PROVIDER in roles and not isinstance(provider, str):
            raise HTTPException(
                status_code=401, detail={"reason": ReasonCode.PROVIDER_CLAIM_MISSING}
            )
        return Principal(subject=str(claims["sub"]), roles=roles, provider=provider)

    def principal(self, request: Request) -> Principal:
        """FastAPI dependency: the authenticated caller of this request.

        A plain function on purpose: FastAPI runs it in a worker thread, so fetching the
        issuer's keys (a blocking HTTP call) never stalls the event loop and its consumers.
        """
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(
                status_code=401,
                detail={
                    "reason": ReasonCode.MISSING_TOKEN,
                    "message_en": "A bearer token is required.",
                },
                headers={"WWW-Authenticate": "Bearer"},
            )
        return self.verify(token)


class DevIssuer:
    """A development token issuer: an EC P-256 key pair kept in a directory outside git."""

    def __init__(self, directory: Path, *, issuer: str, audience: str) -> None:
        """Load the key pair from `directory`, creating it the first time."""
        directory.mkdir(parents=True, exist_ok=True)
        private_path = directory / "dev-issuer.pem"
        if not private_path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
        loaded = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            msg = f"{private_path} is not an EC private key"
            raise TypeError(msg)
        self._key = loaded
        self.kid = "dev-" + uuid.uuid5(uuid.NAMESPACE_OID, private_path.read_text()).hex[:12]
        self.issuer = issuer
        self.audience = audience
        self.jwks_path = directory / "jwks.json"
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key()))
        jwk |= {"kid": self.kid, "use": "sig", "alg": "ES256"}
        self.jwks_path.write_text(json.dumps({"keys": [jwk]}))

    def token(
        self, *, subject: str, roles: list[Role], provider: str | None = None, ttl_s: int = 3600
    ) -> str:
        """A signed access token for the given caller."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + ttl_s,
            "roles": [str(role) for role in roles],
        }
        if provider is not None:
            claims["provider"] = provider
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})
