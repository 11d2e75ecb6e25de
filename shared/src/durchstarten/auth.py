"""Bearer-token authentication for the HTTP APIs (DESIGN.md, Security).

Tokens are OIDC access tokens (Keycloak in production) verified against a JWKS with a fixed
algorithm list, issuer, audience (`aud` may be a list; ours must be among it), expiry and,
when configured, the authorized party (`azp`). The caller's roles and provider id come from
the token, never from the request body. Role names are read from a flat `roles` claim (the
development issuer), Keycloak's realm roles (`realm_access.roles`) and the client roles of
one configured client (`resource_access.<client>.roles`); `AuthSettings.role_map` turns
them into our roles, and a name it does not list grants nothing.

Keys come from a JWKS file (the local stack) or the issuer's JWKS URL (`RemoteJwks`): a
token signed with a key id not yet seen makes the verifier fetch the JWKS again, so the
issuer can rotate its keys without a restart. When the keys cannot be fetched the answer is
503, since the token may well be valid; a bad token is 401 and a missing role 403.

A development issuer (`DevIssuer`) mints tokens for the local stack, the demo and the
tests; its keys live outside git.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from durchstarten.events.reasons import ReasonCode
from durchstarten.logging import get_logger

log = get_logger(__name__)

_COUNTY_KEY = re.compile(r"[0-9]{5}")
ALGORITHMS = ["ES256", "RS256"]  # fixed: never taken from the token header
# The answer while the issuer's keys cannot be fetched; ReasonCode has no member for it yet.
ISSUER_UNAVAILABLE = "issuer-unavailable"


class Role(StrEnum):
    """Who may do what: providers act for themselves, the ministry sees aggregates only."""

    PROVIDER = "provider"
    COORDINATOR = "coordinator"
    MINISTRY = "ministry"
    ADMIN = "admin"


def default_role_map() -> dict[str, Role]:
    """Each of our role names stands for itself; names such as Keycloak's defaults grant nothing."""
    return {role.value: role for role in Role}


class AuthSettings(BaseModel):
    """Where the verification keys come from and which tokens to accept."""

    model_config = {"frozen": True}

    jwks_path: Path | None = Field(default=None, description="JWKS file (local stack).")
    jwks_url: str | None = Field(default=None, description="JWKS URL of the OIDC issuer.")
    issuer: str = Field(default="http://127.0.0.1/durchstarten-dev")
    audience: str = Field(
        default="durchstarten", description="Our audience; a token's aud must name it."
    )
    authorized_parties: tuple[str, ...] = Field(
        default=(),
        description="Clients a token must have been issued to (azp); empty: azp not checked.",
    )
    roles_client: str | None = Field(
        default=None,
        description="Keycloak client whose client roles (resource_access.<client>.roles) count.",
    )
    role_map: dict[str, Role] = Field(
        default_factory=default_role_map,
        description="Role name in the token -> our role; a name not listed grants nothing.",
    )
    provider_claim: str = Field(
        default="provider",
        description="Claim with a provider's id; dots step into nested objects (Keycloak's way).",
    )
    county_claim: str = Field(
        default="county",
        description="Claim with a coordinator's county key (5 digits); dots step into objects.",
    )
    leeway_s: float = Field(
        default=5.0, ge=0, le=60, description="Clock skew allowed on exp, nbf and iat."
    )
    jwks_max_age_s: float = Field(
        default=300.0, gt=0, description="How long fetched keys are trusted before a refetch."
    )
    jwks_refetch_interval_s: float = Field(
        default=30.0,
        ge=0,
        description="Least time between refetches for an unknown key id or after a failure.",
    )
    jwks_timeout_s: float = Field(default=5.0, gt=0, description="Timeout of one JWKS fetch.")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str
    roles: frozenset[Role]
    provider: str | None
    county: str | None = None
    """The county a coordinator works for (its token's county claim)."""

    def require(self, *roles: Role) -> None:
        """Raise 403 unless the caller holds one of `roles`."""
        if not self.roles.intersection(roles):
            raise HTTPException(status_code=403, detail={"reason": ReasonCode.FORBIDDEN_ROLE})


class IssuerUnavailable(Exception):
    """The issuer's keys cannot be fetched: whether the token is valid cannot be told."""

    def __init__(self, retry_after_s: float) -> None:
        """Remember when the next fetch will be tried."""
        super().__init__("the JWKS cannot be fetched")
        self.retry_after_s = retry_after_s


class RemoteJwks:
    """The issuer's signing keys by key id, fetched from its JWKS URL and cached.

    A fetched set is trusted for `max_age_s`, then fetched again; keys older than that are
    not used even while the issuer is unreachable (fail closed), so a key the issuer
    withdrew stops working within `max_age_s`. A key id the set lacks triggers a refetch
    (the issuer rotated its keys), as does any need for keys after a failed fetch; those
    refetches happen at most once per `refetch_interval_s`, so tokens with invented key ids
    cannot turn the verifier against the issuer. Safe to call from several threads.
    """

    def __init__(
        self,
        url: str,
        *,
        max_age_s: float,
        refetch_interval_s: float,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Fetch nothing yet: the first token asks for the keys."""
        # PyJWKClient only fetches and parses here (http and https only, no redirects, a
        # timeout). Its own cache is off: its cooldown also counts the first fetch, which
        # would refuse a freshly rotated key for the cooldown after every scheduled fetch.
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=timeout_s)
        self._max_age_s = max_age_s
        self._refetch_interval_s = refetch_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        # Replaced as a whole, so a reader without the lock sees one consistent set.
        self._cached: tuple[dict[str, jwt.PyJWK], float] = ({}, -math.inf)
        self._failed = False
        self._next_refetch = -math.inf

    def key(self, kid: str) -> jwt.PyJWK:
        """The key with id `kid`; `jwt.InvalidTokenError` if the issuer has none by that id.

        Raises `IssuerUnavailable` when the keys needed to tell cannot be fetched.
        """
        found = self._trusted(kid, self._clock())
        if found is not None:
            return found
        with self._lock:
            now = self._clock()
            keys, fetched_at = self._cached
            fresh = now - fetched_at < self._max_age_s
            # The first fetch and the one after max_age_s are scheduled and never held back;
            # a refetch for an unknown key id, or a retry after a failure, is.
            scheduled = not fresh and not self._failed
            if (scheduled or now >= self._next_refetch) and (not fresh or kid not in keys):
                self._fetch(now, scheduled=scheduled)
            found = self._trusted(kid, now)
            if found is not None:
                return found
            if self._failed:
                raise IssuerUnavailable(retry_after_s=max(self._next_refetch - now, 1.0))
            raise jwt.InvalidTokenError("no key with this key id")

    def _trusted(self, kid: str, now: float) -> jwt.PyJWK | None:
        keys, fetched_at = self._cached
        return keys.get(kid) if now - fetched_at < self._max_age_s else None

    def _fetch(self, now: float, *, scheduled: bool) -> None:
        try:
            fetched = self._client.get_signing_keys()
        # PyJWKClient reports an unreachable issuer as PyJWKClientConnectionError and a
        # set without usable keys as PyJWKClientError or PyJWKSetError; a body that is not
        # JSON surfaces as ValueError, a connection dropped mid-body as OSError.
        except (jwt.PyJWTError, ValueError, OSError) as error:
            self._failed = True
            self._next_refetch = now + self._refetch_interval_s
            log.warning("jwks fetch failed", error_class=type(error).__name__)
            return
        self._cached = ({k.key_id: k for k in fetched if k.key_id}, now)
        self._failed = False
        if not scheduled:
            self._next_refetch = now + self._refetch_interval_s


class TokenVerifier:
    """Verifies bearer tokens; a FastAPI dependency via `principal`."""

    def __init__(
        self,
        settings: AuthSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """Load the JWKS once (file) or fetch keys lazily by key id (URL).

        `clock` (monotonic seconds) paces the JWKS cache, `wall` (Unix seconds) the cache
        of verified tokens; tests pass their own.
        """
        self._settings = settings
        self._wall = wall
        # token -> (its caller, until when the verification is reused): see `principal`.
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._remote = (
            RemoteJwks(
                settings.jwks_url,
                max_age_s=settings.jwks_max_age_s,
                refetch_interval_s=settings.jwks_refetch_interval_s,
                timeout_s=settings.jwks_timeout_s,
                clock=clock,
            )
            if settings.jwks_url
            else None
        )
        self._keys: dict[str, jwt.PyJWK] = {}
        if settings.jwks_path is not None:
            jwks = jwt.PyJWKSet.from_json(settings.jwks_path.read_text())
            self._keys = {key.key_id: key for key in jwks.keys if key.key_id}
        if self._remote is None and not self._keys:
            msg = "authentication needs a JWKS: set DURCHSTARTEN_AUTH_JWKS_PATH or _JWKS_URL"
            raise ValueError(msg)
        self._provider_path = tuple(settings.provider_claim.split("."))
        self._county_path = tuple(settings.county_claim.split("."))
        self._role_paths = [("roles",), ("realm_access", "roles")]
        if settings.roles_client is not None:
            # A path, not a dotted string: Keycloak client ids may contain dots.
            self._role_paths.append(("resource_access", settings.roles_client, "roles"))

    def verify(self, token: str) -> Principal:
        """Check signature, algorithm, issuer, audience, expiry and azp; return the caller.

        401 for a token that fails a check, 503 when the issuer's keys cannot be fetched.
        """
        return self._verify(token)[0]

    def _verify(self, token: str) -> tuple[Principal, float]:
        """The caller, and the token's expiry (Unix seconds)."""
        try:
            claims = self._decode(token)
            names = [name for path in self._role_paths for name in _names_at(claims, path)]
        except IssuerUnavailable as outage:
            raise HTTPException(
                status_code=503,
                detail={
                    "reason": ISSUER_UNAVAILABLE,
                    "message_en": "The token issuer's keys cannot be fetched; try again later.",
                    "message_de": "Die Schlüssel des Token-Ausstellers sind nicht abrufbar; "
                    "bitte später erneut versuchen.",
                },
                headers={"Retry-After": str(math.ceil(outage.retry_after_s))},
            ) from None
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as error:
            raise HTTPException(
                status_code=401,
                detail={"reason": ReasonCode.INVALID_TOKEN, "message_en": type(error).__name__},
                headers={"WWW-Authenticate": "Bearer"},
            ) from None
        role_map = self._settings.role_map
        roles = frozenset(role_map[name] for name in names if name in role_map)
        provider = _value_at(claims, self._provider_path)
        if Role.PROVIDER in roles and not isinstance(provider, str):
            raise HTTPException(
                status_code=401, detail={"reason": ReasonCode.PROVIDER_CLAIM_MISSING}
            )
        county = _value_at(claims, self._county_path)
        county_key = county if isinstance(county, str) and _COUNTY_KEY.fullmatch(county) else None
        if Role.COORDINATOR in roles and Role.ADMIN not in roles and county_key is None:
            # A coordinator works for one county; a token without one would see none, and
            # treating it as statewide would be the unsafe default.
            raise HTTPException(status_code=401, detail={"reason": ReasonCode.COUNTY_CLAIM_MISSING})
        caller = Principal(
            subject=str(claims["sub"]),
            roles=roles,
            provider=provider if isinstance(provider, str) else None,
            county=county_key,
        )
        return caller, float(claims["exp"])

    def _decode(self, token: str) -> dict[str, Any]:
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str) or not kid:
            raise jwt.InvalidTokenError("no key id")  # nothing to look up, nothing to fetch
        key = self._remote.key(kid) if self._remote is not None else self._keys[kid]
        settings = self._settings
        # A PyJWK key also pins the algorithm its JWK names: a token claiming another
        # algorithm for the same key id is refused. PyJWT accepts an aud list that
        # contains our audience.
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            issuer=settings.issuer,
            audience=settings.audience,
            leeway=settings.leeway_s,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        if claims.get("typ", "Bearer") not in ("Bearer", "at+jwt"):
            raise jwt.InvalidTokenError("not an access token")  # e.g. a Keycloak ID token
        if settings.authorized_parties and claims.get("azp") not in settings.authorized_parties:
            raise jwt.InvalidTokenError("issued to another client (azp)")
        return claims

    async def principal(self, request: Request) -> Principal:
        """FastAPI dependency: the authenticated caller of this request.

        A token verified in the last `VERIFIED_REUSE_S` seconds, and not expired, gives the
        caller it gave then: a system calling hundreds of times a second with one token
        pays for one signature check a minute, not one per request. Anything else is
        verified in a worker thread, so fetching the issuer's keys (a blocking HTTP call)
        never stalls the event loop and its consumers. Refusals are never reused. The cost:
        a token whose key the issuer withdraws is accepted for at most `VERIFIED_REUSE_S`
        more (its own expiry still holds).
        """
        token = _bearer_token(request)
        now = self._wall()
        known = self._verified.get(token)
        if known is not None and now < known[1]:
            self._verified.move_to_end(token)
            return known[0]
        caller, expires = await run_in_threadpool(self._verify, token)
        self._verified[token] = (caller, min(expires, now + VERIFIED_REUSE_S))
        self._verified.move_to_end(token)
        while len(self._verified) > VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return caller


PrincipalDependency = Callable[..., Awaitable[Principal]]
"""What `TokenVerifier.principal` is, for the functions that register endpoints with it."""

VERIFIED_REUSE_S = 60.0
"""Seconds a token's verification is reused (never past the token's expiry)."""
VERIFIED_KEPT = 4096
"""Verified tokens kept; the least recently used go first."""


def _bearer_token(request: Request) -> str:
    """The request's bearer token (401 when there is none)."""
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
    return token


def _value_at(claims: dict[str, Any], path: tuple[str, ...]) -> object:
    """The claim at `path` through nested objects; None where a step is missing."""
    value: object = claims
    for step in path:
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def _names_at(claims: dict[str, Any], path: tuple[str, ...]) -> list[str]:
    """Role names at `path`: none when absent; anything but a list of names is a bad token."""
    value = _value_at(claims, path)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise jwt.InvalidTokenError(f"{'.'.join(path)} is not a list of role names")
    return value


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
        self,
        *,
        subject: str,
        roles: list[Role],
        provider: str | None = None,
        county: str | None = None,
        ttl_s: int = 3600,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed access token for the given caller (`county`: a coordinator's county).

        `extra`: further claims, as another issuer might write them (the verifier's tests).
        """
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
        if county is not None:
            claims["county"] = county
        claims |= extra or {}
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})
