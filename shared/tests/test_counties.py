"""County files: the shipped ones, their lookups, and every rule a broken file breaks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from durchstarten.counties import (
    BUILT_IN,
    CountyFileError,
    load_counties,
    render,
    with_providers,
    write_counties,
)
from durchstarten.events.values import HERFORD_KEYS

HERFORD_FILE = BUILT_IN / "05758-kreis-herford.toml"


def test_three_real_counties_of_different_shape_ship_with_their_official_keys() -> None:
    counties = load_counties()
    assert counties.keys == ["05711", "05754", "05758"]
    herford, guetersloh, bielefeld = (counties.by_key[k] for k in ("05758", "05754", "05711"))
    assert (herford.kind, guetersloh.kind, bielefeld.kind) == (
        "kreis",
        "kreis",
        "kreisfreie-stadt",
    )
    # Kreis Herford's keys are those the first versions' names stand for.
    assert counties.municipalities("05758") == sorted(HERFORD_KEYS.values())
    assert len(counties.municipalities("05754")) == 13
    assert counties.municipalities("05711") == ["05711000"]
    for county in counties.all():
        assert county.source  # every file names the list its keys were checked against
        assert all(m.key.startswith(county.key) for m in county.municipalities)
    assert counties.county_of("05754028") is guetersloh  # Rheda-Wiedenbrück
    assert counties.county_of("05758099") is None


def test_a_provider_may_work_in_several_counties() -> None:
    counties = load_counties()
    assert counties.counties_of("in-via") == ["05711", "05758"]
    assert counties.counties_of("awo-owl") == ["05754", "05758"]
    assert counties.counties_of("diakonie-herford") == ["05758"]
    assert counties.county_of_site("in-via", "bielefeld") == "05711"
    assert counties.county_of_site("in-via", "herford") == "05758"
    assert counties.sites()["diakonie-herford"] == ["herford", "buende", "loehne"]


def test_the_counties_say_which_programmes_they_run_and_when() -> None:
    herford = load_counties().by_key["05758"]
    assert herford.runs("durchstarten", date(2019, 4, 9))
    assert herford.runs("durchstarten", date(2023, 6, 30))
    assert not herford.runs("durchstarten", date(2023, 7, 1))
    assert herford.runs("kim", date(2030, 1, 1))
    assert not herford.runs("no-such-programme", date(2020, 1, 1))


def test_a_written_county_reads_back_as_it_was(tmp_path: Path) -> None:
    counties = with_providers(load_counties(), ["test-x"])
    again = load_counties(write_counties(counties, tmp_path))
    assert {k: again.by_key[k] for k in again.keys} == counties.by_key
    assert render(again.by_key["05711"]) == render(counties.by_key["05711"])


def _broken(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(CountyFileError) as caught:
        load_counties(tmp_path)
    return str(caught.value)


HERFORD = HERFORD_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "where", "rule"),
    [
        (('key = "05758004"', 'key = "0575800"'), "municipalities.0.key", "pattern"),
        (('key = "05758004"', 'key = "05754004"'), "(file)", "does not lie in county 05758"),
        (('key = "05758008"', 'key = "05758004"'), "(file)", "listed twice"),
        (('kind = "kreis"', 'kind = "land"'), "kind", "kreis"),
        (('modules = ["F2"]', 'modules = ["F9"]'), "providers.1.modules.0", "F1"),
        (
            ('municipality = "05758024"', 'municipality = "05754008"'),
            "(file)",
            "not a municipality",
        ),
        (("until = 2023-06-30", "until = 2018-01-01"), "programmes.0", "before"),
        (('name = "Kreis Herford"', 'nme = "Kreis Herford"'), "name", "Field required"),
    ],
)
def test_a_broken_county_file_names_the_file_the_field_and_the_rule(
    tmp_path: Path, change: tuple[str, str], where: str, rule: str
) -> None:
    old, new = change
    assert old in HERFORD
    message = _broken(tmp_path, "05758-kreis-herford.toml", HERFORD.replace(old, new, 1))
    assert "05758-kreis-herford.toml" in message
    assert f": {where}:" in message
    assert rule in message


def test_files_that_contradict_each_other_are_refused(tmp_path: Path) -> None:
    assert "file name must start" in _broken(tmp_path, "kreis-herford.toml", HERFORD)
    (tmp_path / "kreis-herford.toml").unlink()
    (tmp_path / "05758-kreis-herford.toml").write_text(HERFORD, encoding="utf-8")
    twice = _broken(tmp_path, "05758-again.toml", HERFORD)
    assert "configured twice" in twice
    (tmp_path / "05758-again.toml").unlink()
    other = HERFORD.replace('key = "05758"', 'key = "05759"', 1).replace('"05758', '"05759')
    sites = _broken(tmp_path, "05759-copy.toml", other)
    assert "site ids must differ across counties" in sites  # the same provider's again
    (tmp_path / "05759-copy.toml").unlink()
    assert "not a readable TOML file" in _broken(tmp_path, "05760-x.toml", "key = ")
    (tmp_path / "05760-x.toml").unlink()
    for path in tmp_path.glob("*.toml"):
        path.unlink()
    with pytest.raises(CountyFileError, match="no county files"):
        load_counties(tmp_path)
