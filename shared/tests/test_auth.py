import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import HTTPException, Request

from durchstarten.auth import (
    VERIFIED_REUSE_S,
    AuthSettings,
    DevIssuer,
    Principal,
    Role,
    TokenVerifier,
)
from durchstarten.messaging.commands import Actor

ISSUER = "http://127.0.0.1/test-issuer"


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path, issuer=ISSUER, audience="durchstarten")


@pytest.fixture
def verifier(issuer: DevIssuer) -> TokenVerifier:
    return TokenVerifier(AuthSettings(jwks_path=issuer.jwks_path, issuer=ISSUER))


def test_a_provider_token_yields_role_and_provider(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    principal = verifier.verify(issuer.token(subject="s", roles=[Role.PROVIDER], provider="in-via"))
    assert principal.roles == {Role.PROVIDER}
    assert principal.provider == "in-via"
    principal.require(Role.PROVIDER)
    with pytest.raises(HTTPException) as caught:
        principal.require(Role.MINISTRY)
    assert caught.value.status_code == 403


@pytest.mark.parametrize("county", [None, "5758", "05758x", 5758])
def test_a_coordinator_token_without_a_county_key_is_refused(
    issuer: DevIssuer, verifier: TokenVerifier, county: object
) -> None:
    """A coordinator works for one county: no claim (or a malformed one) is not statewide."""
    claims = {"county": county} if county is not None else {}
    token = issuer.token(subject="k", roles=[Role.COORDINATOR], extra=claims)
    with pytest.raises(HTTPException) as caught:
        verifier.verify(token)
    assert caught.value.status_code == 401
    detail: object = caught.value.detail  # FastAPI types it as str; ours is a mapping
    assert detail == {"reason": "county-claim-missing"}


def test_a_coordinator_acts_in_its_county_and_an_administrator_statewide(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    herford = verifier.verify(issuer.token(subject="k", roles=[Role.COORDINATOR], county="05758"))
    assert herford.county == "05758"
    actor = Actor.from_principal(herford)
    assert (actor.coordinator, actor.county) == (True, "05758")
    assert actor.covers("05758")
    assert not actor.covers("05754")
    admin = Actor.from_principal(verifier.verify(issuer.token(subject="a", roles=[Role.ADMIN])))
    assert admin.county is None
    assert admin.covers("05754")
    assert admin.covers("05758")
    provider = Actor.provider_system("in-via")
    assert not provider.covers("05758")


def test_the_key_pair_is_kept_between_starts(tmp_path: Path, issuer: DevIssuer) -> None:
    again = DevIssuer(tmp_path, issuer=ISSUER, audience="durchstarten")
    assert again.kid == issuer.kid


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"iss": "http://evil.example"},
        {"exp": int(time.time()) - 10},
    ],
)
def test_wrong_audience_issuer_or_expiry_is_refused(
    issuer: DevIssuer, verifier: TokenVerifier, claims: dict[str, object]
) -> None:
    good = jwt.decode(
        issuer.token(subject="s", roles=[Role.ADMIN]), options={"verify_signature": False}
    )
    forged = jwt.encode(good | claims, issuer._key, algorithm="ES256", headers={"kid": issuer.kid})
    with pytest.raises(HTTPException) as caught:
        verifier.verify(forged)
    assert caught.value.status_code == 401


def test_unsigned_and_foreign_tokens_are_refused(tmp_path: Path, verifier: TokenVerifier) -> None:
    unsigned = jwt.encode({"sub": "x", "roles": ["admin"]}, key=None, algorithm="none")  # type: ignore[arg-type]  # the attack: no key at all
    with pytest.raises(HTTPException):
        verifier.verify(unsigned)
    stranger = DevIssuer(tmp_path / "other", issuer=ISSUER, audience="durchstarten")
    with pytest.raises(HTTPException):
        verifier.verify(stranger.token(subject="x", roles=[Role.ADMIN]))


def test_a_provider_token_without_provider_claim_is_refused(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    with pytest.raises(HTTPException):
        verifier.verify(issuer.token(subject="s", roles=[Role.PROVIDER]))


def test_a_token_claiming_another_algorithm_for_the_key_is_refused(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:

    claims = jwt.decode(
        issuer.token(subject="s", roles=[Role.ADMIN]), options={"verify_signature": False}
    )
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": issuer.kid})
    with pytest.raises(HTTPException) as caught:
        verifier.verify(forged)
    assert caught.value.status_code == 401


@pytest.mark.parametrize("extra", [{"roles": "admin"}, {"typ": "ID"}])
def test_malformed_roles_and_id_tokens_are_refused(
    issuer: DevIssuer, verifier: TokenVerifier, extra: dict[str, object]
) -> None:
    claims = jwt.decode(
        issuer.token(subject="s", roles=[Role.ADMIN]), options={"verify_signature": False}
    )
    token = jwt.encode(claims | extra, issuer._key, algorithm="ES256", headers={"kid": issuer.kid})
    with pytest.raises(HTTPException) as caught:
        verifier.verify(token)
    assert caught.value.status_code == 401


def _request(token: str) -> Request:
    return Request({"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]})


class _Counting(TokenVerifier):
    """A verifier that counts its signature checks."""

    checks = 0

    def _verify(self, token: str) -> tuple[Principal, float]:
        self.checks += 1
        return super()._verify(token)


class _Wall:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_a_verified_token_is_reused_for_a_minute_and_never_past_its_expiry(
    issuer: DevIssuer,
) -> None:
    wall = _Wall()
    verifier = _Counting(AuthSettings(jwks_path=issuer.jwks_path, issuer=ISSUER), wall=wall)
    token = issuer.token(subject="s", roles=[Role.PROVIDER], provider="in-via", ttl_s=3600)
    first = await verifier.principal(_request(token))
    for _ in range(10):
        assert await verifier.principal(_request(token)) == first
    assert verifier.checks == 1
    wall.now += VERIFIED_REUSE_S + 1  # checked again after a minute
    assert await verifier.principal(_request(token)) == first
    assert verifier.checks == 2
    # Another token is never answered from this one's entry.
    other = issuer.token(subject="t", roles=[Role.PROVIDER], provider="awo-owl")
    assert (await verifier.principal(_request(other))).provider == "awo-owl"
    assert verifier.checks == 3

    wall.now = time.time()  # the clock the issuer's expiry is counted on
    short = issuer.token(subject="s", roles=[Role.PROVIDER], provider="in-via", ttl_s=30)
    await verifier.principal(_request(short))
    assert verifier.checks == 4
    wall.now += 29
    await verifier.principal(_request(short))
    assert verifier.checks == 4
    wall.now += 2  # past its expiry, within the minute: verified again (where PyJWT's own
    await verifier.principal(_request(short))  # clock, not yet past it, still accepts it)
    assert verifier.checks == 5


async def test_a_refused_token_is_refused_every_time(issuer: DevIssuer, tmp_path: Path) -> None:
    verifier = _Counting(AuthSettings(jwks_path=issuer.jwks_path, issuer=ISSUER))
    stranger = DevIssuer(tmp_path / "stranger", issuer=ISSUER, audience="durchstarten")
    forged = stranger.token(subject="s", roles=[Role.ADMIN])
    for attempt in range(1, 4):
        with pytest.raises(HTTPException) as refused:
            await verifier.principal(_request(forged))
        assert refused.value.status_code == 401
        assert verifier.checks == attempt
    with pytest.raises(HTTPException) as missing:
        await verifier.principal(Request({"type": "http", "headers": []}))
    assert missing.value.status_code == 401
