"""Measure duplicate detection on generated identities with realistic variants.

    uv run python -m intake.matching_eval [--people 1400] [--seed 7]

Each generated person is registered once; about half are registered a second time by
another provider, with the variants seen in practice (transliteration, dropped diacritics,
swapped name order, a dropped particle, a typo, a second family name, a placeholder birth
date, day and month swapped). Unrelated people share common names and birth years, as they
do. Every pair that shares a blocking key is compared; precision and recall are counted per
pair.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from intake.matching import Identity, Verdict, compare, matching_keys

GIVEN = {
    "male": [
        "Mohammed",
        "Ahmad",
        "Yusuf",
        "Hussein",
        "Hassan",
        "Mustafa",
        "Mahmoud",
        "Ibrahim",
        "Omar",
        "Khaled",
        "Abdullah",
        "Amir",
        "Said",
        "Yasin",
        "Jamal",
        "Ali",
        "Bilal",
        "Dawit",
        "Samuel",
        "Tesfay",
        "Habib",
        "Karim",
        "Reza",
        "Farid",
        "Nabil",
        "Osman",
        "Idris",
    ],
    "female": [
        "Fatima",
        "Aisha",
        "Maryam",
        "Zainab",
        "Nur",
        "Samira",
        "Hevin",
        "Leyla",
        "Rahel",
        "Selam",
        "Amina",
        "Hiba",
        "Sara",
        "Huda",
        "Yasmin",
        "Dilan",
        "Shirin",
        "Mahsa",
        "Rana",
    ],
}
FAMILY = [
    "Haddad",
    "Rahimi",
    "Ahmadi",
    "Mohammadi",
    "Hosseini",
    "Kaya",
    "Osman",
    "Nuri",
    "Tesfaye",
    "Gebre",
    "Al-Khatib",
    "Hamdan",
    "Saleh",
    "Yilmaz",
    "Karimi",
    "Habibi",
    "Sultani",
    "Noori",
    "Mahmoud",
    "Abbas",
    "Darwish",
    "Ismail",
    "Barakzai",
    "Popal",
    "Haile",
    "Berhane",
    "Demir",
    "Al-Masri",
    "Jaber",
    "Khoury",
    "Nasser",
    "Qasemi",
    "Sharifi",
    "Azizi",
    "Rezaei",
    "Bakr",
]
TRANSLITERATIONS = {
    "Mohammed": ["Muhammad", "Mohamad", "Mohamed"],
    "Ahmad": ["Ahmed"],
    "Yusuf": ["Youssef"],
    "Hussein": ["Husain", "Hossein"],
    "Hassan": ["Hasan"],
    "Mustafa": ["Mostafa"],
    "Mahmoud": ["Mahmud"],
    "Ibrahim": ["Ebrahim"],
    "Omar": ["Umar"],
    "Khaled": ["Khalid"],
    "Fatima": ["Fatma"],
    "Aisha": ["Ayesha"],
    "Maryam": ["Mariam"],
    "Zainab": ["Zeinab"],
    "Nur": ["Noor"],
    "Haddad": ["Hadad"],
    "Tesfay": ["Tesfaye"],
    "Said": ["Saeed"],
}


@dataclass(frozen=True)
class Record:
    """One registration of a generated person."""

    person: int
    identity: Identity


def _typo(rng: random.Random, name: str) -> str:
    if len(name) < 4:
        return name
    i = rng.randrange(1, len(name) - 1)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]  # swap two letters


def _variant(rng: random.Random, person: Identity) -> Identity:
    given, family, birth = person.given_name, person.family_name, person.birth_date
    kind = rng.choice(
        [
            "translit",
            "translit",
            "order",
            "particle",
            "typo",
            "placeholder",
            "swap-dm",
            "umlaut",
            "second-name",
        ]
    )
    if kind == "translit":
        given = rng.choice(TRANSLITERATIONS.get(given, [given]))
        family = rng.choice(TRANSLITERATIONS.get(family, [family]))
    elif kind == "order":
        given, family = family, given
    elif kind == "particle":
        family = family.replace("Al-", "") if family.startswith("Al-") else "Al-" + family
    elif kind == "typo":
        family = _typo(rng, family)
    elif kind == "placeholder":
        birth = date(birth.year, 1, 1)
    elif kind == "swap-dm" and birth.day <= 12:
        birth = date(birth.year, birth.day, birth.month)
    elif kind == "umlaut":
        family = family.replace("a", "ä", 1)
    elif kind == "second-name":  # one document adds a family name the other leaves out
        family = f"{family} {rng.choice(FAMILY)}"
    return Identity(given, family, birth)


def generate(people: int, seed: int) -> list[Record]:
    """Persons and their re-registrations (about half of them, with one variant each)."""
    rng = random.Random(seed)  # noqa: S311  # test data
    records = []
    for person in range(people):
        sex = rng.choice(["male", "female"])
        birth = date(1994, 1, 1) + timedelta(days=rng.randrange(365 * 10))
        if rng.random() < 0.25:
            birth = date(birth.year, 1, 1)  # only the year is known
        identity = Identity(rng.choice(GIVEN[sex]), rng.choice(FAMILY), birth)
        records.append(Record(person, identity))
        if rng.random() < 0.5:
            records.append(Record(person, _variant(rng, identity)))
    return records


def evaluate(records: list[Record]) -> dict[str, float | int]:
    """Precision and recall of sure matches, and of any flag (sure or possible)."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        for key in matching_keys(record.identity):
            blocks[key].append(index)
    pairs = {(i, j) for members in blocks.values() for i, j in itertools.combinations(members, 2)}
    truth = {
        (i, j)
        for i, j in itertools.combinations(range(len(records)), 2)
        if records[i].person == records[j].person
    }
    sure, flagged = set(), set()
    for i, j in pairs:
        verdict = compare(records[i].identity, records[j].identity).verdict
        if verdict is Verdict.SURE:
            sure.add((i, j))
        if verdict is not Verdict.DIFFERENT:
            flagged.add((i, j))
    return {
        "identities": len(records),
        "true_duplicate_pairs": len(truth),
        "compared_pairs": len(pairs),
        "sure_precision": round(len(sure & truth) / max(1, len(sure)), 4),
        "sure_recall": round(len(sure & truth) / max(1, len(truth)), 4),
        "flagged_precision": round(len(flagged & truth) / max(1, len(flagged)), 4),
        "flagged_recall": round(len(flagged & truth) / max(1, len(truth)), 4),
    }


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=1400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(evaluate(generate(args.people, args.seed)), indent=2))


if __name__ == "__main__":
    main()
