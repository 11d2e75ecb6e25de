"""Invented people: names, languages and coarse attributes by country of origin.

Every name is made up from common given and family names of the region; together with a
birth date drawn at random they identify nobody.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

GIVEN_MALE: dict[str, list[str]] = {
    "arab": [
        "Ahmad",
        "Omar",
        "Yusuf",
        "Khaled",
        "Mahmoud",
        "Tarek",
        "Samir",
        "Bilal",
        "Hassan",
        "Ibrahim",
        "Mustafa",
        "Karim",
        "Nabil",
        "Rami",
        "Walid",
        "Ziad",
        "Hamza",
        "Anas",
    ],
    "afghan": [
        "Ali",
        "Reza",
        "Jawad",
        "Farid",
        "Hamid",
        "Navid",
        "Sohrab",
        "Wahid",
        "Zabiullah",
        "Mirwais",
        "Naqib",
        "Rahim",
        "Sadiq",
        "Tamim",
        "Yama",
        "Ehsan",
    ],
    "west-africa": [
        "Mamadou",
        "Ibrahima",
        "Alpha",
        "Ousmane",
        "Sekou",
        "Abdoulaye",
        "Lamine",
        "Moussa",
        "Thierno",
        "Boubacar",
        "Chinedu",
        "Emeka",
        "Tunde",
        "Kelechi",
    ],
    "horn": [
        "Dawit",
        "Yonas",
        "Samuel",
        "Tesfay",
        "Mehari",
        "Abdirahman",
        "Mohamed",
        "Abdi",
        "Filmon",
        "Habtom",
        "Kidane",
        "Liban",
    ],
    "persian": ["Arash", "Babak", "Dariush", "Kian", "Omid", "Payam", "Siavash", "Behnam"],
}
GIVEN_FEMALE: dict[str, list[str]] = {
    "arab": [
        "Amina",
        "Fatima",
        "Mariam",
        "Nour",
        "Rania",
        "Samira",
        "Layla",
        "Huda",
        "Rasha",
        "Dalia",
        "Yasmin",
        "Hiba",
        "Aya",
        "Lina",
    ],
    "afghan": [
        "Zahra",
        "Mahsa",
        "Parwana",
        "Shabnam",
        "Nilofar",
        "Freshta",
        "Mursal",
        "Sadaf",
        "Tahmina",
        "Marzia",
    ],
    "west-africa": [
        "Aissatou",
        "Mariama",
        "Fatoumata",
        "Kadiatou",
        "Hawa",
        "Adaeze",
        "Ngozi",
        "Binta",
    ],
    "horn": ["Senait", "Helen", "Saba", "Ruta", "Hodan", "Ayaan", "Filsan", "Luwam"],
    "persian": ["Shirin", "Parisa", "Leila", "Nasrin", "Roya", "Setareh", "Golnar"],
}
FAMILY: dict[str, list[str]] = {
    "arab": [
        "Haddad",
        "Khalil",
        "Mansour",
        "Saleh",
        "Nasser",
        "Darwish",
        "Hamdan",
        "Jaber",
        "Barakat",
        "Shaheen",
        "Qasim",
        "Abboud",
        "Sabbagh",
        "Hussein",
        "Al-Khatib",
        "Yassin",
        "Rashid",
        "Othman",
        "Hilal",
        "Zaher",
    ],
    "afghan": [
        "Ahmadi",
        "Mohammadi",
        "Rahimi",
        "Hashimi",
        "Karimi",
        "Sultani",
        "Noori",
        "Popal",
        "Stanekzai",
        "Wardak",
        "Sadat",
        "Amiri",
        "Haidari",
        "Nazari",
        "Qaderi",
        "Safi",
    ],
    "west-africa": [
        "Diallo",
        "Barry",
        "Bah",
        "Sow",
        "Camara",
        "Conde",
        "Keita",
        "Toure",
        "Balde",
        "Sylla",
        "Okafor",
        "Adeyemi",
        "Eze",
        "Nwosu",
    ],
    "horn": [
        "Tesfaye",
        "Ghebremedhin",
        "Haile",
        "Berhane",
        "Kidane",
        "Mebrahtu",
        "Osman",
        "Warsame",
        "Farah",
        "Abdullahi",
        "Tekle",
        "Yohannes",
    ],
    "persian": [
        "Hosseini",
        "Moradi",
        "Rezaei",
        "Jafari",
        "Sadeghi",
        "Tehrani",
        "Karimzadeh",
        "Shirazi",
        "Bahrami",
    ],
}
REGION = {
    "SYR": "arab",
    "IRQ": "arab",
    "XXA": "arab",
    "AFG": "afghan",
    "GIN": "west-africa",
    "NGA": "west-africa",
    "ERI": "horn",
    "SOM": "horn",
    "IRN": "persian",
}
LANGUAGES = {
    "SYR": ["ar", "ku"],
    "IRQ": ["ar", "ku"],
    "XXA": ["ar", "ku"],
    "AFG": ["prs", "ps"],
    "GIN": ["fr", "ff"],
    "NGA": ["en", "yo"],
    "ERI": ["ti", "ar"],
    "SOM": ["so", "ar"],
    "IRN": ["fa", "ku"],
}
AGE_WEIGHTS = {18: 9, 19: 11, 20: 12, 21: 12, 22: 11, 23: 10, 24: 9, 25: 8, 26: 7, 27: 6}


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    """One key of `weights`, drawn with its weight."""
    keys = sorted(weights)  # sorted: the draw must not depend on the file's key order
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def name(rng: random.Random, origin: str, sex: str) -> tuple[str, str]:
    """A given and a family name typical of the region of `origin`."""
    region = REGION.get(origin, "arab")
    female = sex == "female" or (sex not in {"female", "male"} and rng.random() < 0.5)
    given = rng.choice((GIVEN_FEMALE if female else GIVEN_MALE)[region])
    return given, rng.choice(FAMILY[region])


def languages(rng: random.Random, origin: str) -> list[str]:
    """The languages a person from `origin` speaks (first one always)."""
    spoken = LANGUAGES.get(origin, ["ar"])
    return spoken[:1] if rng.random() < 0.6 else list(spoken)


def age(rng: random.Random, minimum: int, maximum: int) -> int:
    """An age at entry, younger ones more often (as in the programme's monitoring)."""
    ages = list(range(minimum, maximum + 1))
    return rng.choices(ages, weights=[AGE_WEIGHTS.get(a, 5) for a in ages])[0]


def birth_date(rng: random.Random, entry: date, age_at_entry: int, taken: set[date]) -> date:
    """A birth date giving exactly `age_at_entry` on `entry`, unused so far in this history.

    Distinct birth dates keep intake's duplicate check from joining two invented people;
    1 January is avoided because intake treats it as a placeholder.
    """
    while True:
        anniversary = date(entry.year - age_at_entry, entry.month, min(entry.day, 28))
        born = anniversary - timedelta(days=rng.randint(1, 360))
        if (born.month, born.day) != (1, 1) and born not in taken:
            taken.add(born)
            return born
