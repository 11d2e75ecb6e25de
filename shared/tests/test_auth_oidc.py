"""OIDC as Keycloak issues it: roles, aud lists, azp, key rotation and issuer outages.

The JWKS is served over real HTTP from 127.0.0.1; PyJWT fetches and checks everything.
Time only moves where a test moves it (`Clock`); nothing here asserts how long anything takes.
"""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI, HTTPException

from durchstarten.auth import (
    ISSUER_UNAVAILABLE,
    AuthSettings,
    Principal,
    Role,
    TokenVerifier,
)
from durchstarten.settings import ServiceSettings

ISSUER = "http://127.0.0.1/realms/durchstarten"
CLIENT = "durchstarten-api"  # our Keycloak client: its client roles count, it is our audience


class SigningKey:
    """An RSA key of the issuer, RS256 as Keycloak signs by default."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = json.loads(
            jwt.algorithms.RSAAlgorithm.to_jwk(self._private.public_key())
        )
        return public | {"kid": self.kid, "use": "sig", "alg": "RS256"}

    def token(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": self.kid})


class JwksServer:
    """The issuer's JWKS endpoint: serves the keys it is given, counts fetches, can fail."""

    def __init__(self, encryption_key: SigningKey) -> None:
        self.keys: list[SigningKey] = []
        # Keycloak's JWKS also lists its encryption key; it must never verify a signature.
        encryption = encryption_key.jwk() | {"use": "enc", "alg": "RSA-OAEP"}
        self.failing = False
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                if jwks.failing:
                    self.send_error(500)
                    return
                keys = [key.jwk() for key in jwks.keys] + [encryption]
                body = json.dumps({"keys": keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no access log in the test output

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = (
            f"http://127.0.0.1:{self._server.server_address[1]}/protocol/openid-connect/certs"
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._running = True

    def serve(self, *keys: SigningKey) -> None:
        self.keys = list(keys)

    def stop(self) -> None:
        """Take the endpoint away: connections to its port are refused from now on."""
        if self._running:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._running = False


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key_a() -> SigningKey:
    return SigningKey("key-a")


@pytest.fixture(scope="module")
def key_b() -> SigningKey:
    return SigningKey("key-b")


@pytest.fixture(scope="module")
def encryption_key() -> SigningKey:
    return SigningKey("key-enc")


@pytest.fixture
def jwks(key_a: SigningKey, encryption_key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer(encryption_key)
    server.serve(key_a)
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def keycloak_settings(jwks: JwksServer, **changes: Any) -> AuthSettings:
    fields: dict[str, Any] = {
        "jwks_url": jwks.url,
        "issuer": ISSUER,
        "audience": CLIENT,
        "roles_client": CLIENT,
        "authorized_parties": ("provider-portal", "in-via-system"),
    }
    return AuthSettings(**(fields | changes))


@pytest.fixture
def verifier(jwks: JwksServer, clock: Clock) -> TokenVerifier:
    return TokenVerifier(keycloak_settings(jwks), clock=clock)


def keycloak_claims(**changes: Any) -> dict[str, Any]:
    """An access token's claims as Keycloak writes them (several audiences, azp, roles)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "iss": ISSUER,
        "aud": [CLIENT, "account"],
        "sub": str(uuid.uuid4()),
        "typ": "Bearer",
        "azp": "provider-portal",
        "sid": str(uuid.uuid4()),
        "acr": "1",
        "realm_access": {
            "roles": ["offline_access", "uma_authorization", "default-roles-durchstarten"]
        },
        "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
        "scope": "openid profile email",
        "preferred_username": "jana.beispiel",
        # A user attribute mapped into the token: the county a coordinator works for.
        "county": "05758",
    }
    return claims | changes


def status_of(verifier: TokenVerifier, token: str) -> int:
    with pytest.raises(HTTPException) as caught:
        verifier.verify(token)
    return caught.value.status_code


def client_roles(*names: str) -> dict[str, Any]:
    return {"resource_access": {CLIENT: {"roles": list(names)}, "account": {"roles": []}}}


# Key rotation and outages


def test_a_rotated_key_is_fetched_without_a_restart_and_the_old_one_then_refused(
    jwks: JwksServer, verifier: TokenVerifier, key_a: SigningKey, key_b: SigningKey
) -> None:
    admin = keycloak_claims(**client_roles("admin"))
    assert verifier.verify(key_a.token(admin)).roles == {Role.ADMIN}
    jwks.serve(key_b)
    assert verifier.verify(key_b.token(admin)).roles == {Role.ADMIN}
    assert jwks.fetches == 2
    assert status_of(verifier, key_a.token(admin)) == 401


def test_unknown_key_ids_refetch_the_jwks_at_most_once_per_interval(
    jwks: JwksServer, verifier: TokenVerifier, clock: Clock, key_a: SigningKey
) -> None:
    verifier.verify(key_a.token(keycloak_claims()))
    invented = SigningKey("invented").token(keycloak_claims())
    assert status_of(verifier, invented) == 401
    assert status_of(verifier, invented) == 401
    assert jwks.fetches == 2  # the first fetch, then one refetch for the unknown key id
    clock.now += AuthSettings().jwks_refetch_interval_s
    assert status_of(verifier, invented) == 401
    assert jwks.fetches == 3


def test_threads_waiting_for_a_rotated_key_share_one_fetch(
    jwks: JwksServer, verifier: TokenVerifier, key_a: SigningKey, key_b: SigningKey
) -> None:
    verifier.verify(key_a.token(keycloak_claims()))
    jwks.serve(key_a, key_b)
    token = key_b.token(keycloak_claims(**client_roles("coordinator")))
    start = threading.Barrier(8)
    roles: list[frozenset[Role]] = []

    def verify() -> None:
        start.wait()
        roles.append(verifier.verify(token).roles)

    threads = [threading.Thread(target=verify) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert roles == [frozenset({Role.COORDINATOR})] * 8
    assert jwks.fetches == 2


def test_an_unreachable_issuer_is_503_while_cached_keys_keep_working(
    jwks: JwksServer, verifier: TokenVerifier, key_a: SigningKey, key_b: SigningKey
) -> None:
    verifier.verify(key_a.token(keycloak_claims()))
    jwks.stop()
    with pytest.raises(HTTPException) as caught:
        verifier.verify(key_b.token(keycloak_claims()))
    assert caught.value.status_code == 503
    assert caught.value.detail["reason"] == ISSUER_UNAVAILABLE  # type: ignore[index]  # detail is the dict given
    assert caught.value.headers is not None
    assert int(caught.value.headers["Retry-After"]) >= 1
    assert verifier.verify(key_a.token(keycloak_claims())).subject  # its key is still fresh


def test_an_issuer_down_at_the_first_token_is_503(jwks: JwksServer, key_a: SigningKey) -> None:
    jwks.stop()
    verifier = TokenVerifier(keycloak_settings(jwks))
    assert status_of(verifier, key_a.token(keycloak_claims())) == 503


def test_keys_past_their_max_age_are_not_trusted_while_the_issuer_fails(
    jwks: JwksServer, verifier: TokenVerifier, clock: Clock, key_a: SigningKey
) -> None:
    token = key_a.token(keycloak_claims())
    verifier.verify(token)
    jwks.failing = True  # answers 500
    clock.now += AuthSettings().jwks_max_age_s
    assert status_of(verifier, token) == 503
    assert status_of(verifier, token) == 503
    assert jwks.fetches == 2  # the retry waits for the refetch interval
    jwks.failing = False
    clock.now += AuthSettings().jwks_refetch_interval_s
    assert verifier.verify(token).subject
    assert jwks.fetches == 3


def test_a_bad_token_is_401_even_while_the_issuer_is_down(
    jwks: JwksServer, verifier: TokenVerifier, key_a: SigningKey
) -> None:
    verifier.verify(key_a.token(keycloak_claims()))
    jwks.stop()
    assert status_of(verifier, key_a.token(keycloak_claims(iss="http://evil.example"))) == 401
    assert status_of(verifier, "not-a-jwt") == 401


# Keycloak's claims


@pytest.mark.parametrize(
    ("changes", "roles"),
    [
        (client_roles("provider", "manage-account"), {Role.PROVIDER}),
        (client_roles("coordinator", "ministry"), {Role.COORDINATOR, Role.MINISTRY}),
        ({"realm_access": {"roles": ["offline_access", "admin"]}}, {Role.ADMIN}),
        ({"resource_access": {"another-client": {"roles": ["admin"]}}}, set()),
        ({"realm_access": {"roles": ["default-roles-durchstarten"]}}, set()),
        ({"realm_access": None, "resource_access": None}, set()),
    ],
)
def test_realm_and_client_roles_map_to_ours(
    verifier: TokenVerifier, key_a: SigningKey, changes: dict[str, Any], roles: set[Role]
) -> None:
    claims = keycloak_claims(provider="in-via", **changes)
    assert verifier.verify(key_a.token(claims)).roles == roles


def test_a_configured_role_map_replaces_our_names(
    jwks: JwksServer, clock: Clock, key_a: SigningKey
) -> None:
    role_map = {"dst-ministry": Role.MINISTRY, "dst-admin": Role.ADMIN}
    verifier = TokenVerifier(keycloak_settings(jwks, role_map=role_map), clock=clock)
    claims = keycloak_claims(
        realm_access={"roles": ["dst-ministry", "admin"]}, **client_roles("dst-admin")
    )
    assert verifier.verify(key_a.token(claims)).roles == {Role.MINISTRY, Role.ADMIN}
    only_our_names = keycloak_claims(realm_access={"roles": ["admin", "ministry"]})
    assert verifier.verify(key_a.token(only_our_names)).roles == set()


@pytest.mark.parametrize(
    "changes",
    [
        {"realm_access": {"roles": "admin"}},
        {"resource_access": {CLIENT: {"roles": [{"name": "admin"}]}}},
        {"roles": "admin"},
    ],
)
def test_malformed_role_claims_are_refused(
    verifier: TokenVerifier, key_a: SigningKey, changes: dict[str, Any]
) -> None:
    assert status_of(verifier, key_a.token(keycloak_claims(**changes))) == 401


def test_the_provider_id_comes_from_the_configured_claim(
    jwks: JwksServer, clock: Clock, key_a: SigningKey
) -> None:
    verifier = TokenVerifier(
        keycloak_settings(jwks, provider_claim="durchstarten.provider"), clock=clock
    )
    claims = keycloak_claims(durchstarten={"provider": "awo-owl"}, **client_roles("provider"))
    principal = verifier.verify(key_a.token(claims))
    assert principal.roles == {Role.PROVIDER}
    assert principal.provider == "awo-owl"
    flat = keycloak_claims(provider="awo-owl", **client_roles("provider"))
    assert status_of(verifier, key_a.token(flat)) == 401  # the configured claim is missing


def test_the_default_provider_claim_is_provider(verifier: TokenVerifier, key_a: SigningKey) -> None:
    claims = keycloak_claims(provider="diakonie-herford", **client_roles("provider"))
    assert verifier.verify(key_a.token(claims)).provider == "diakonie-herford"


@pytest.mark.parametrize("aud", [[CLIENT], ["account", CLIENT, "broker"], CLIENT])
def test_an_audience_list_with_ours_is_accepted(
    verifier: TokenVerifier, key_a: SigningKey, aud: object
) -> None:
    assert verifier.verify(key_a.token(keycloak_claims(aud=aud))).subject


@pytest.mark.parametrize("aud", [["account", "broker"], [], "account"])
def test_an_audience_without_ours_is_refused(
    verifier: TokenVerifier, key_a: SigningKey, aud: object
) -> None:
    assert status_of(verifier, key_a.token(keycloak_claims(aud=aud))) == 401


@pytest.mark.parametrize("azp", ["provider-portal", "in-via-system"])
def test_a_configured_authorized_party_is_accepted(
    verifier: TokenVerifier, key_a: SigningKey, azp: str
) -> None:
    assert verifier.verify(key_a.token(keycloak_claims(azp=azp))).subject


@pytest.mark.parametrize("azp", ["someone-elses-app", None, ["provider-portal"]])
def test_a_wrong_or_missing_authorized_party_is_refused(
    verifier: TokenVerifier, key_a: SigningKey, azp: object
) -> None:
    assert status_of(verifier, key_a.token(keycloak_claims(azp=azp))) == 401


def test_azp_is_not_checked_unless_configured(
    jwks: JwksServer, clock: Clock, key_a: SigningKey
) -> None:
    verifier = TokenVerifier(keycloak_settings(jwks, authorized_parties=()), clock=clock)
    assert verifier.verify(key_a.token(keycloak_claims(azp="any-client"))).subject


def test_keycloak_id_and_refresh_tokens_are_refused(
    verifier: TokenVerifier, key_a: SigningKey
) -> None:
    for typ in ("ID", "Refresh"):
        assert status_of(verifier, key_a.token(keycloak_claims(typ=typ))) == 401


def test_expiry_allows_the_configured_leeway_only(
    jwks: JwksServer, clock: Clock, key_a: SigningKey
) -> None:
    verifier = TokenVerifier(keycloak_settings(jwks, leeway_s=60), clock=clock)
    now = int(time.time())
    assert verifier.verify(key_a.token(keycloak_claims(exp=now - 30))).subject
    assert status_of(verifier, key_a.token(keycloak_claims(exp=now - 600))) == 401


def test_the_encryption_key_in_the_jwks_verifies_nothing(
    verifier: TokenVerifier, encryption_key: SigningKey
) -> None:
    assert status_of(verifier, encryption_key.token(keycloak_claims())) == 401


def test_a_token_without_a_key_id_is_refused_without_a_fetch(
    jwks: JwksServer, verifier: TokenVerifier, key_a: SigningKey
) -> None:
    unnamed = jwt.encode(keycloak_claims(), key_a._private, algorithm="RS256")
    assert status_of(verifier, unnamed) == 401
    assert jwks.fetches == 0


# As the services see it: the FastAPI dependency


async def test_the_http_answers_are_503_401_and_403(
    jwks: JwksServer, verifier: TokenVerifier, key_a: SigningKey, key_b: SigningKey
) -> None:
    app = FastAPI()

    @app.get("/ministry-only")
    def ministry_only(caller: Principal = Depends(verifier.principal)) -> dict[str, str]:  # noqa: B008  # FastAPI's way to inject
        caller.require(Role.MINISTRY)
        return {"subject": caller.subject}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as http:

        async def get(token: str) -> httpx.Response:
            return await http.get("/ministry-only", headers={"Authorization": f"Bearer {token}"})

        ministry = keycloak_claims(**client_roles("ministry"))
        assert (await get(key_a.token(ministry))).status_code == 200
        coordinator = keycloak_claims(**client_roles("coordinator"))
        assert (await get(key_a.token(coordinator))).status_code == 403
        refused = await get(key_a.token(keycloak_claims(aud=["account"])))
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        jwks.stop()
        outage = await get(key_b.token(ministry))
    assert outage.status_code == 503
    assert outage.json()["detail"]["reason"] == ISSUER_UNAVAILABLE
    assert "Retry-After" in outage.headers


# Settings


def test_the_service_settings_carry_the_oidc_options(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {
        "DURCHSTARTEN_DATABASE_URL": "postgresql://u:p@127.0.0.1/db",
        "DURCHSTARTEN_AUTH_JWKS_URL": "https://sso.example/realms/nrw/protocol/openid-connect/certs",
        "DURCHSTARTEN_AUTH_AUTHORIZED_PARTIES": '["provider-portal", "in-via-system"]',
        "DURCHSTARTEN_AUTH_ROLES_CLIENT": "de.nrw.durchstarten",
        "DURCHSTARTEN_AUTH_ROLE_MAP": '{"dst-admin": "admin"}',
        "DURCHSTARTEN_AUTH_PROVIDER_CLAIM": "durchstarten.provider",
        "DURCHSTARTEN_AUTH_LEEWAY_S": "10",
        "DURCHSTARTEN_AUTH_JWKS_MAX_AGE_S": "600",
        "DURCHSTARTEN_AUTH_JWKS_REFETCH_INTERVAL_S": "60",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    auth = ServiceSettings().auth()
    assert auth.authorized_parties == ("provider-portal", "in-via-system")
    assert auth.roles_client == "de.nrw.durchstarten"
    assert auth.role_map == {"dst-admin": Role.ADMIN}
    assert auth.provider_claim == "durchstarten.provider"
    assert (auth.leeway_s, auth.jwks_max_age_s, auth.jwks_refetch_interval_s) == (10, 600, 60)


def test_the_default_settings_keep_todays_behaviour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURCHSTARTEN_DATABASE_URL", "postgresql://u:p@127.0.0.1/db")
    auth = ServiceSettings().auth()
    assert auth == AuthSettings()
    assert auth.role_map == {role.value: role for role in Role}
