"""Who may do what on the broker: principals and ACLs, derived from the provider list.

One declaration for the local stack, the topic-setup job and the cluster manifests: every
provider and every service is a SCRAM principal of its own, and the broker's
StandardAuthorizer (with `allow.everyone.if.no.acl.found=false`) allows exactly this:

- a provider writes only its `inbound.<id>.*` topics, reads only its `outbound.<id>.*`
  topics and uses only consumer groups named `<id>.*`;
- a service reads its inbound topics and the domain topics it learns from, writes its own
  `<service>.events`, its replies and the dead-letter topics of what it reads, and uses only
  consumer groups named `<service>` or `<service>.*`.

Identity-from-the-topic (DESIGN.md) holds because nobody else can write a provider's topic.
`KafkaAccess` says how each principal connects: SASL_PLAINTEXT on the local stack's own
listener, SASL_SSL (checked against the stack's CA) on its TLS listener.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.admin import CreateAclsRequest

from durchstarten.events.topics import (
    COACHING_EVENTS,
    COURSES_EVENTS,
    INTAKE_EVENTS,
    WRITE_SERVICES,
    ServiceName,
    dead_letters,
    domain_events,
    inbound,
    outbound,
    validate_provider_id,
)

ADMIN = "admin"
"""The super user: topic set-up and ACLs only, never a service or a provider."""

SERVICES: tuple[ServiceName, ...] = ("intake", "coaching", "courses", "reporting")

LEARNS_FROM: dict[ServiceName, tuple[str, ...]] = {
    "intake": (COURSES_EVENTS,),
    "coaching": (INTAKE_EVENTS,),
    "courses": (INTAKE_EVENTS, COACHING_EVENTS),
    "reporting": (INTAKE_EVENTS, COACHING_EVENTS, COURSES_EVENTS),
}
"""The other services' domain topics each service consumes."""

READS_FOR_ACCESS_REQUESTS: dict[ServiceName, tuple[str, ...]] = {
    "intake": (INTAKE_EVENTS, COACHING_EVENTS, COURSES_EVENTS),
}
"""Domain topics a service reads (and never consumes in a group) to answer an access
request (Art. 15): intake collects every event about one pseudonym."""


class ResourceType(IntEnum):
    """Kafka's ACL resource types (org.apache.kafka.common.resource.ResourceType)."""

    TOPIC = 2
    GROUP = 3


class PatternType(IntEnum):
    """Kafka's resource pattern types (PatternType)."""

    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """Kafka's ACL operations (AclOperation) that this project grants."""

    READ = 3
    WRITE = 4
    DESCRIBE = 8


ALLOW = 3  # AclPermissionType.ALLOW
ANY_HOST = "*"


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW rule: `principal` may do `operation` on the resource(s) named."""

    principal: str
    resource: ResourceType
    name: str
    pattern: PatternType
    operation: Operation

    @property
    def kafka_principal(self) -> str:
        """The principal as the authorizer names it."""
        return f"User:{self.principal}"


def provider_principal(provider: str) -> str:
    """The SCRAM user of a provider's system."""
    return f"provider.{validate_provider_id(provider)}"


def service_principal(service: str) -> str:
    """The SCRAM user of a service."""
    return f"service.{service}"


def principals(providers: Iterable[str]) -> list[str]:
    """Every SCRAM user the deployment needs (the admin first)."""
    return [
        ADMIN,
        *(service_principal(s) for s in SERVICES),
        *(provider_principal(p) for p in providers),
    ]


def check_provider_ids(providers: Iterable[str]) -> None:
    """A provider id must not shadow a service's consumer groups (`<service>.*`)."""
    clashes = sorted(set(providers) & set(SERVICES))
    if clashes:
        msg = f"provider ids must not be service names: {clashes}"
        raise ValueError(msg)


def declared_acls(providers: Iterable[str]) -> list[Acl]:
    """Every ACL of the deployment, sorted (so applying it is repeatable and diffable)."""
    providers = list(providers)
    check_provider_ids(providers)
    acls: set[Acl] = set()
    for provider in providers:
        who = provider_principal(provider)
        acls |= _topic(who, f"inbound.{provider}.", Operation.WRITE, prefixed=True)
        acls |= _topic(who, f"outbound.{provider}.", Operation.READ, prefixed=True)
        acls.add(Acl(who, ResourceType.GROUP, f"{provider}.", PatternType.PREFIXED, Operation.READ))
    for service in SERVICES:
        who = service_principal(service)
        reads = list(LEARNS_FROM[service])
        if service in WRITE_SERVICES:
            reads += [inbound(p, service) for p in providers]
            acls |= _topic(who, domain_events(service), Operation.WRITE)
            for provider in providers:
                acls |= _topic(who, outbound(provider, service), Operation.WRITE)
        for topic in reads:
            acls |= _topic(who, topic, Operation.READ)
            acls |= _topic(who, dead_letters(topic), Operation.WRITE)
        for topic in READS_FOR_ACCESS_REQUESTS.get(service, ()):
            acls |= _topic(who, topic, Operation.READ)
        acls.add(Acl(who, ResourceType.GROUP, service, PatternType.LITERAL, Operation.READ))
        acls.add(Acl(who, ResourceType.GROUP, f"{service}.", PatternType.PREFIXED, Operation.READ))
    return sorted(acls)


def _topic(who: str, name: str, operation: Operation, *, prefixed: bool = False) -> set[Acl]:
    """`operation` on a topic, plus DESCRIBE (metadata) that every client needs."""
    pattern = PatternType.PREFIXED if prefixed else PatternType.LITERAL
    return {
        Acl(who, ResourceType.TOPIC, name, pattern, operation),
        Acl(who, ResourceType.TOPIC, name, pattern, Operation.DESCRIBE),
    }


@dataclass(frozen=True)
class KafkaAccess:
    """How to reach the broker as each principal: the bootstrap servers and SCRAM passwords.

    No passwords: the broker runs PLAINTEXT without authentication (an explicit opt-out).
    A CA file: `bootstrap` is a TLS listener, and clients check the broker's certificate and
    host name against that CA (SASL_SSL), never against the system's CAs and never without
    verification. `over_tls` gives the same principals through a node's TLS listener.
    """

    bootstrap: str
    passwords: Mapping[str, str] = field(default_factory=dict)
    cafile: Path | None = None
    """The CA certificate (PEM) that signed the broker's; None: no TLS."""

    @property
    def secured(self) -> bool:
        """Whether clients authenticate (SASL/SCRAM)."""
        return bool(self.passwords)

    @property
    def tls(self) -> bool:
        """Whether clients speak TLS to `bootstrap`."""
        return self.cafile is not None

    @property
    def security_protocol(self) -> str:
        """Kafka's `security.protocol` of these clients (librdkafka and Java name it so too)."""
        if self.secured:
            return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"
        return "SSL" if self.tls else "PLAINTEXT"

    def over_tls(self, bootstrap: str, cafile: Path) -> KafkaAccess:
        """The same principals and passwords through the TLS listener at `bootstrap`."""
        return replace(self, bootstrap=bootstrap, cafile=cafile)

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts `cafile` only and checks the host name."""
        if self.cafile is None:
            msg = "no CA file: this access does not use TLS"
            raise ValueError(msg)
        context: ssl.SSLContext = create_ssl_context(cafile=str(self.cafile))
        return context

    def options(self, principal: str = ADMIN) -> dict[str, Any]:
        """Aiokafka client options (bootstrap included) for `principal`."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.security_protocol != "PLAINTEXT":
            options["security_protocol"] = self.security_protocol
        if self.tls:
            # A context of its own per client: cheap, and no client can change another's.
            options["ssl_context"] = self.ssl_context()
        if self.secured:
            options |= {
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_plain_username": principal,
                "sasl_plain_password": self.passwords[principal],
            }
        return options

    def provider(self, provider: str) -> dict[str, Any]:
        """Options of a provider's system."""
        return self.options(provider_principal(provider))

    def admin_options(self) -> dict[str, Any]:
        """Options of the admin, without the bootstrap (for `ensure_topics` and the like)."""
        options = self.options(ADMIN)
        del options["bootstrap_servers"]
        return options

    @classmethod
    def from_directory(
        cls, bootstrap: str, secrets: Path, *, cafile: Path | None = None
    ) -> KafkaAccess:
        """The local stack's access: one `kafka-<principal>` file per password in `secrets`.

        With `cafile`, `bootstrap` is the stack's TLS listener (`KafkaNode.tls_bootstrap`).
        """
        passwords = {
            path.name.removeprefix("kafka-"): path.read_text().strip()
            for path in sorted(secrets.glob("kafka-*"))
        }
        return cls(bootstrap, passwords, cafile)


class AclSetupError(RuntimeError):
    """The broker refused an ACL; the message names the rule and the broker's error."""


async def apply_acls(
    bootstrap_servers: str, acls: Iterable[Acl], *, client_options: dict[str, Any]
) -> int:
    """Create every ACL on the broker (idempotent: an existing rule is left as it is).

    aiokafka's admin client has no `create_acls`; its protocol layer has the request, which
    is sent here to the controller like `create_topics` does. Returns the rules sent.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="acl-setup", **client_options
    )
    await admin.start()

    async def create(acl: Acl) -> None:
        request = CreateAclsRequest(
            resource_type=int(acl.resource),
            resource_name=acl.name,
            resource_pattern_type_filter=int(acl.pattern),
            principal=acl.kafka_principal,
            host=ANY_HOST,
            operation=int(acl.operation),
            permission_type=ALLOW,
        )
        response = await admin._send_to_controller(request)  # see docstring
        for error_code, error_message in response.creation_responses:
            if error_code != 0:
                msg = f"ACL {acl} refused: {error_code} {error_message}"
                raise AclSetupError(msg)

    wanted = list(acls)
    try:
        # A few dozen small requests on one connection: in flight together, not one by one.
        await asyncio.gather(*(create(acl) for acl in wanted))
    finally:
        await admin.close()
    return len(wanted)
