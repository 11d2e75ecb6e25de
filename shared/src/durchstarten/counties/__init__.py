"""Counties as configuration: one TOML file per Kreis or kreisfreie Stadt (docs/counties.md).

A county file names the county's official key (the first five digits of the Amtlicher
Gemeindeschlüssel), its municipalities with their eight-digit keys, the programmes it runs
with their dates, and the providers working there with their sites and modules. Nothing in
code names a county: adding one is a new file and a restart. A file with an error stops
the service at start, naming the file, the field and the rule (`CountyFileError`).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from durchstarten.events.values import (
    CountyKey,
    ModuleCode,
    MunicipalityKey,
    ProviderId,
    SiteId,
)

BUILT_IN = Path(__file__).parent
"""The county files that ship with the code: Kreis Herford, Kreis Gütersloh, Bielefeld."""


class CountyKind(StrEnum):
    """A Kreis of several municipalities, or a kreisfreie Stadt that is its own county."""

    KREIS = "kreis"
    KREISFREIE_STADT = "kreisfreie-stadt"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MunicipalityEntry(_Part):
    """One municipality (Gemeinde) of the county, by its official key."""

    key: MunicipalityKey
    name: str = Field(min_length=1, max_length=200)


class ProgrammeRun(_Part):
    """A programme the county runs, and from when to when."""

    id: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    from_: date = Field(alias="from")
    until: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ProgrammeRun:
        if self.until is not None and self.until < self.from_:
            msg = "`until` lies before `from`"
            raise ValueError(msg)
        return self

    def covers(self, day: date) -> bool:
        """True when the county runs the programme on `day`."""
        return self.from_ <= day and (self.until is None or day <= self.until)


class Site(_Part):
    """A provider's place of work, in one of the county's municipalities."""

    id: SiteId
    municipality: MunicipalityKey


class ProviderEntry(_Part):
    """A provider (Träger) working in the county: its modules and its sites there."""

    id: ProviderId
    name: str = Field(min_length=1, max_length=200)
    modules: list[ModuleCode] = Field(min_length=1)
    sites: list[Site] = Field(min_length=1)


class County(_Part):
    """One county file."""

    key: CountyKey
    name: str = Field(min_length=1, max_length=200)
    kind: CountyKind
    source: str = Field(
        min_length=1, description="The published list the keys were checked against."
    )
    coordinating_office: str | None = None
    municipalities: list[MunicipalityEntry] = Field(min_length=1)
    programmes: list[ProgrammeRun] = Field(default_factory=list)
    providers: list[ProviderEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> County:
        keys = [m.key for m in self.municipalities]
        for index, key in enumerate(keys):
            if not key.startswith(self.key):
                msg = f"municipalities[{index}].key {key} does not lie in county {self.key}"
                raise ValueError(msg)
        if len(set(keys)) != len(keys):
            msg = "municipalities: a key is listed twice"
            raise ValueError(msg)
        if self.kind is CountyKind.KREISFREIE_STADT and len(keys) != 1:
            msg = "municipalities: a kreisfreie Stadt is one municipality"
            raise ValueError(msg)
        ids = [p.id for p in self.providers]
        if len(set(ids)) != len(ids):
            msg = "providers: a provider is listed twice"
            raise ValueError(msg)
        for p_index, provider in enumerate(self.providers):
            site_ids = [s.id for s in provider.sites]
            if len(set(site_ids)) != len(site_ids):
                msg = f"providers[{p_index}].sites: a site id is listed twice"
                raise ValueError(msg)
            for s_index, site in enumerate(provider.sites):
                if site.municipality not in keys:
                    msg = (
                        f"providers[{p_index}].sites[{s_index}].municipality "
                        f"{site.municipality} is not a municipality of this county"
                    )
                    raise ValueError(msg)
        runs = [r.id for r in self.programmes]
        if len(set(runs)) != len(runs):
            msg = "programmes: a programme is listed twice"
            raise ValueError(msg)
        return self

    def runs(self, programme: str, day: date) -> bool:
        """True when the county runs `programme` on `day`."""
        return any(r.id == programme and r.covers(day) for r in self.programmes)

    def provider(self, provider: str) -> ProviderEntry | None:
        """The provider's entry in this county, if it works here."""
        return next((p for p in self.providers if p.id == provider), None)


class CountyFileError(ValueError):
    """A county file that cannot be used: the message names the file, the field and the rule."""


class Counties:
    """Every configured county, with the lookups the services need."""

    def __init__(self, by_key: Mapping[str, County]) -> None:
        """Index the counties and their municipalities (checked by `load_counties`)."""
        self.by_key = dict(by_key)
        self._by_municipality = {
            m.key: county for county in self.by_key.values() for m in county.municipalities
        }

    def all(self) -> list[County]:
        """The counties in key order."""
        return [self.by_key[key] for key in sorted(self.by_key)]

    @property
    def keys(self) -> list[str]:
        """Every county key, in order."""
        return sorted(self.by_key)

    def county_of(self, municipality: str) -> County | None:
        """The county a municipality key belongs to (None: not a configured municipality)."""
        return self._by_municipality.get(municipality)

    def municipalities(self, county: str) -> list[str]:
        """The municipality keys of one county, in key order."""
        return sorted(m.key for m in self.by_key[county].municipalities)

    def provider_ids(self) -> list[str]:
        """Every provider named in any county, in order."""
        return sorted({p.id for c in self.by_key.values() for p in c.providers})

    def counties_of(self, provider: str) -> list[str]:
        """The keys of the counties a provider works in."""
        return sorted(c.key for c in self.by_key.values() if c.provider(provider) is not None)

    def sites(self) -> dict[str, list[str]]:
        """Each provider's sites in every county it works in."""
        found: dict[str, list[str]] = {}
        for county in self.all():
            for provider in county.providers:
                found.setdefault(provider.id, []).extend(s.id for s in provider.sites)
        return found

    def county_of_site(self, provider: str, site: str) -> str | None:
        """The county where a provider's site lies (site ids are unique per provider)."""
        for county in self.by_key.values():
            entry = county.provider(provider)
            if entry is not None and any(s.id == site for s in entry.sites):
                return county.key
        return None


def load_counties(directory: Path = BUILT_IN) -> Counties:
    """Every county file (`<key>-<name>.toml`) in `directory`, checked together.

    Raises CountyFileError naming the file, the field and the rule.
    """
    counties: dict[str, County] = {}
    claimed: dict[str, Path] = {}
    sites: dict[tuple[str, str], Path] = {}
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        msg = f"{directory}: no county files (*.toml)"
        raise CountyFileError(msg)
    for path in paths:
        county = _read(path)
        if not path.stem.startswith(f"{county.key}-"):
            msg = f"{path}: key: the file name must start with the county key {county.key}-"
            raise CountyFileError(msg)
        if county.key in counties:
            msg = f"{path}: key: county {county.key} is configured twice"
            raise CountyFileError(msg)
        for municipality in county.municipalities:
            if municipality.key in claimed:
                msg = (
                    f"{path}: municipalities: {municipality.key} is also in "
                    f"{claimed[municipality.key].name}"
                )
                raise CountyFileError(msg)
            claimed[municipality.key] = path
        for provider in county.providers:
            for site in provider.sites:
                other = sites.get((provider.id, site.id))
                if other is not None:
                    msg = (
                        f"{path}: providers.sites: {provider.id} has a site {site.id!r} in "
                        f"{other.name} too; a provider's site ids must differ across counties"
                    )
                    raise CountyFileError(msg)
                sites[(provider.id, site.id)] = path
        counties[county.key] = county
    return Counties(counties)


def _read(path: Path) -> County:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        msg = f"{path}: not a readable TOML file: {error}"
        raise CountyFileError(msg) from None
    try:
        return County.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(file)"
        msg = f"{path}: {where}: {first['msg']}"
        raise CountyFileError(msg) from None


def with_providers(counties: Counties, providers: Sequence[str], *, only: bool = False) -> Counties:
    """`counties` with `providers` added to every county.

    Each gets all modules and one site per municipality, named after the municipality's
    key: a test's or a load run's providers, which must be somewhere to register anyone. A
    provider already listed stays as it is; `only`: the county files' own providers are left
    out.
    """
    changed: dict[str, County] = {}
    for county in counties.all():
        added = [
            ProviderEntry(
                id=provider,
                name=provider,
                modules=list(ModuleCode),
                sites=[Site(id=f"site-{m.key}", municipality=m.key) for m in county.municipalities],
            )
            for provider in providers
            if county.provider(provider) is None
        ]
        kept = [] if only else county.providers
        changed[county.key] = county.model_copy(update={"providers": [*kept, *added]})
    return Counties(changed)


def render(county: County) -> str:
    """A county as the TOML of its file (what `load_counties` reads back unchanged)."""
    lines = [f"key = {_toml(county.key)}", f"name = {_toml(county.name)}"]
    lines += [f"kind = {_toml(county.kind.value)}", f"source = {_toml(county.source)}"]
    if county.coordinating_office is not None:
        lines.append(f"coordinating_office = {_toml(county.coordinating_office)}")
    lines.append("municipalities = [")
    lines += [
        f"    {{ key = {_toml(m.key)}, name = {_toml(m.name)} }}," for m in county.municipalities
    ]
    lines.append("]")
    for run in county.programmes:
        lines += ["", "[[programmes]]", f"id = {_toml(run.id)}", f"from = {run.from_.isoformat()}"]
        if run.until is not None:
            lines.append(f"until = {run.until.isoformat()}")
    for provider in county.providers:
        modules = ", ".join(_toml(m.value) for m in provider.modules)
        sites = ", ".join(
            f"{{ id = {_toml(s.id)}, municipality = {_toml(s.municipality)} }}"
            for s in provider.sites
        )
        lines += ["", "[[providers]]", f"id = {_toml(provider.id)}"]
        lines += [f"name = {_toml(provider.name)}", f"modules = [{modules}]", f"sites = [{sites}]"]
    return "\n".join(lines) + "\n"


def write_counties(counties: Counties, directory: Path) -> Path:
    """Write every county as its file into `directory` (created); returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for county in counties.all():
        slug = "".join(c if c.isalnum() else "-" for c in county.name.lower()).strip("-")
        (directory / f"{county.key}-{slug}.toml").write_text(render(county), encoding="utf-8")
    return directory


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for these values)."""
    return json.dumps(value, ensure_ascii=False)
