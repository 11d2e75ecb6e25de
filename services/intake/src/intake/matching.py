"""Duplicate-person detection: the same young person registered by two providers.

Names are normalised (case, diacritics, transliteration variants, name order) and compared
by a German phonetic code (Kölner Phonetik) and by Jaro-Winkler similarity (rapidfuzz's);
birth dates count placeholder dates (1 January, common in refugee documents) as weaker
evidence. Pure functions only: the handler supplies the candidates from the blind index.

Two kinds of blocking keys go into the index. A person is compared only with the
registrations that share a name token's phonetic code *and* the birth year
(`matching_keys`): every rule below that finds any likeness needs the same birth year, so
this loses no duplicate, and a common name (every Mohammed) no longer brings hundreds of
candidates to decrypt. The coordinators' search by name alone reads the name-only keys
(`search_keys`). Each identity's tokens and codes are worked out once (`Features`), not
again for every pair compared.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from rapidfuzz.distance import JaroWinkler

# Spellings of one name in Latin transliteration (Arabic, Dari/Pashto, Tigrinya, Kurdish).
_VARIANT_GROUPS = [
    "muhammad mohammed mohamed mohammad muhammed mohamad mohamud mohammod muhamad",
    "ahmad ahmed achmed ahmet",
    "yusuf youssef yousef yusef yousif jusuf",
    "husain hussein husein hussain hossein houssein",
    "hasan hassan hasen",
    "mustafa mostafa moustafa mustapha",
    "mahmud mahmoud mahmood",
    "ibrahim ebrahim ibraheem",
    "umar omar omer",
    "khalid khaled chalid",
    "fatima fatma fatimah fatemeh",
    "aisha aysha ayesha aischa",
    "maryam mariam miriam meryem",
    "zainab zeinab zaynab",
    "abdullah abdallah abdulla",
    "abdulrahman abdelrahman abdurrahman",
    "amir ameer emir",
    "said saeed saied sayed",
    "yasin yassin yaseen",
    "jamal gamal djamal",
    "nur noor nour",
    "rahimi rahemi",
    "ahmadi ahmady",
    "haddad hadad",
    "tesfay tesfaye tesfai",
    "gebre gebrey ghebre",
]
_CANONICAL = {variant: group.split()[0] for group in _VARIANT_GROUPS for variant in group.split()}
_PARTICLES = {"al", "el", "ul", "bin", "ben", "ibn", "abu", "bint", "de", "van", "von"}


def normalise(name: str) -> list[str]:
    """Lower-case ASCII tokens, transliteration variants mapped to one spelling."""
    text = name.lower().replace("ß", "ss")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    tokens = [t for t in re.split(r"[^a-z]+", text) if t and t not in _PARTICLES]
    return [_CANONICAL.get(token, token) for token in tokens]


def koelner_phonetik(word: str) -> str:
    """The Kölner Phonetik code of one word (Postel 1969), e.g. `Müller` -> `657`."""
    tokens = normalise(word)
    text = list(tokens[0]) if tokens else []
    codes: list[str] = []
    for index, char in enumerate(text):
        before = text[index - 1] if index > 0 else ""
        after = text[index + 1] if index + 1 < len(text) else ""
        codes.append(_code(char, before, after, index == 0))
    # Collapse repeats, then drop every 0 except a leading one, and the h's ("-").
    collapsed: list[str] = []
    for code in codes:
        if code == "-":
            continue
        if not collapsed or collapsed[-1] != code:
            collapsed.append(code)
    return "".join(c for i, c in enumerate(collapsed) if c != "0" or i == 0)


def _code(char: str, before: str, after: str, first: bool) -> str:  # noqa: PLR0911, PLR0912  # Postel's table: one branch per letter rule
    # Sets, not strings: "" in "csz" would be true at a word's end.
    if char in _VOWELS:
        return "0"
    if char == "h":
        return "-"
    if char == "b":
        return "1"
    if char == "p":
        return "3" if after == "h" else "1"
    if char in {"d", "t"}:
        return "8" if after in _CSZ else "2"
    if char in {"f", "v", "w"}:
        return "3"
    if char in {"g", "k", "q"}:
        return "4"
    if char == "c":
        if first:
            return "4" if after in _C_HARD_FIRST else "8"
        return "8" if before in _SZ or after not in _C_HARD else "4"
    if char == "x":
        return "8" if before in _CKQ else "48"
    if char == "l":
        return "5"
    if char in {"m", "n"}:
        return "6"
    if char == "r":
        return "7"
    if char in _SZ:
        return "8"
    return ""


_VOWELS = frozenset("aeijouy")
_CSZ = frozenset("csz")
_SZ = frozenset("sz")
_CKQ = frozenset("ckq")
_C_HARD_FIRST = frozenset("ahkloqrux")
_C_HARD = frozenset("ahkoqux")


def jaro_winkler(a: str, b: str, *, at_least: float = 0.0) -> float:
    """Jaro-Winkler similarity in [0, 1] (prefix weight 0.1 over four characters at most).

    Below `at_least` it is 0 (rapidfuzz then stops early).
    """
    return float(JaroWinkler.similarity(a, b, score_cutoff=at_least))


@dataclass(frozen=True)
class Identity:
    """The identifiers matching looks at."""

    given_name: str
    family_name: str
    birth_date: date


def is_placeholder(day: date) -> bool:
    """1 January: the date documents give when only the year is known."""
    return (day.month, day.day) == (1, 1)


def name_tokens(identity: Identity) -> list[str]:
    """All name tokens, given and family together (their order varies between documents)."""
    return normalise(f"{identity.given_name} {identity.family_name}")


@dataclass(frozen=True)
class Features:
    """What comparing reads of an identity, worked out once: name tokens, codes, birth."""

    tokens: tuple[tuple[str, str], ...]
    """Each name token with its Kölner Phonetik code."""
    birth_date: date

    @property
    def sorted_tokens(self) -> list[str]:
        """The name tokens in canonical order (for the exact agreement a sure match needs)."""
        return sorted(token for token, _ in self.tokens)


def features(identity: Identity) -> Features:
    """An identity's name tokens with their phonetic codes, and its birth date."""
    return Features(
        tuple((token, koelner_phonetik(token)) for token in name_tokens(identity)),
        identity.birth_date,
    )


def search_keys(identity: Identity) -> list[str]:
    """Name-only keys: the phonetic code of each name token (the coordinators' search)."""
    return sorted({f"name:{code}" for code in _codes(identity)})


def matching_keys(identity: Identity) -> list[str]:
    """Keys any possible duplicate shares: a name token's phonetic code and the birth year.

    `compare` finds no likeness at all between different birth years (`birth_similarity`
    is 0 there), so bucketing by year loses no duplicate.
    """
    year = identity.birth_date.year
    return sorted({f"name:{code}:born:{year}" for code in _codes(identity)})


def _codes(identity: Identity) -> set[str]:
    return {koelner_phonetik(token) for token in name_tokens(identity)}


def blocking_keys(identity: Identity) -> list[str]:
    """Every key the blind index keeps of a person: name-only and name-and-year."""
    return sorted({*search_keys(identity), *matching_keys(identity)})


def _token_similarity(a: tuple[str, str], b: tuple[str, str]) -> float:
    if a[0] == b[0]:
        return 1.0
    if a[1] == b[1]:
        return 0.9
    return jaro_winkler(a[0], b[0], at_least=0.85)


def name_similarity(a: Identity | Features, b: Identity | Features) -> float:
    """Order-insensitive similarity of the names: each token's best partner, averaged."""
    tokens_a, tokens_b = _features(a).tokens, _features(b).tokens
    if not tokens_a or not tokens_b:
        return 0.0
    shorter, longer = sorted((tokens_a, tokens_b), key=len)
    best = [max(_token_similarity(t, u) for u in longer) for t in shorter]
    # Extra tokens on one side (a second given name) cost a little, not everything.
    return sum(best) / len(best) * (0.95 if len(longer) > len(shorter) else 1.0)


def _features(identity: Identity | Features) -> Features:
    return identity if isinstance(identity, Features) else features(identity)


def birth_similarity(a: date, b: date) -> float:
    """How strongly two birth dates suggest one person."""
    if a == b:
        return 0.8 if is_placeholder(a) else 1.0
    if a.year == b.year and (is_placeholder(a) or is_placeholder(b)):
        return 0.7
    if a.year == b.year and (a.month, a.day) == (b.day, b.month):
        return 0.8  # day and month swapped
    if a.year == b.year:
        return 0.3
    return 0.0


class Verdict(StrEnum):
    """What the comparison concludes."""

    SURE = "sure"
    POSSIBLE = "possible"
    DIFFERENT = "different"


SURE_NAME = 0.95
SURE_BIRTH = 1.0
POSSIBLE_SCORE = 0.78


@dataclass(frozen=True)
class Match:
    """A comparison's outcome."""

    verdict: Verdict
    score: float


def names_agree_exactly(a: Identity | Features, b: Identity | Features) -> bool:
    """Both names have exactly the same tokens, canonically spelt, in any order.

    Phonetic or fuzzy likeness is never enough for "sure": Hasan and Husain Haddad, born on
    one day, may be twins. Nor is one name inside the other: "Chinedu Sow Sabako" may be
    another person than "Chinedu Sow" (a sure match would show them the other's names).
    """
    tokens_a, tokens_b = _features(a).sorted_tokens, _features(b).sorted_tokens
    return bool(tokens_a) and tokens_a == tokens_b


def compare(a: Identity | Features, b: Identity | Features) -> Match:
    """Compare two identities (or their features, worked out once).

    Sure: the names agree and the exact (non-placeholder) birth date agrees. Possible:
    similar enough for a coordinator to look. Different: otherwise.
    """
    a, b = _features(a), _features(b)
    names = name_similarity(a, b)
    births = birth_similarity(a.birth_date, b.birth_date)
    score = round(0.6 * names + 0.4 * births, 4)
    if names >= SURE_NAME and births >= SURE_BIRTH and names_agree_exactly(a, b):
        return Match(Verdict.SURE, score)
    if score >= POSSIBLE_SCORE and births > 0:
        return Match(Verdict.POSSIBLE, score)
    return Match(Verdict.DIFFERENT, score)


@dataclass(frozen=True)
class Candidate:
    """An earlier registration sharing a blocking key, its identifiers opened for comparison."""

    participant_id: uuid.UUID
    identity: Identity


@dataclass(frozen=True)
class BestMatch:
    """The earlier registration most like a new one, and how alike they are."""

    participant_id: uuid.UUID
    match: Match

    @property
    def sure(self) -> bool:
        """The same person beyond doubt: the new registration joins the existing one."""
        return self.match.verdict is Verdict.SURE


def best_match(identity: Identity, candidates: Iterable[Candidate]) -> BestMatch | None:
    """The most similar candidate that is at least a possible match, if any."""
    best: BestMatch | None = None
    new = features(identity)
    for candidate in candidates:
        result = compare(new, candidate.identity)
        if result.verdict is not Verdict.DIFFERENT and (
            best is None or result.score > best.match.score
        ):
            best = BestMatch(candidate.participant_id, result)
    return best
