import uuid

import pytest
from cryptography.exceptions import InvalidTag

from intake.vault import Sealed, Vault, new_vault_key

IDENTITY = {"given_name": "Amina", "family_name": "Haddad", "birth_date": "2001-05-04"}


def test_an_identity_round_trips_under_its_own_key() -> None:
    vault = Vault(new_vault_key())
    pid = uuid.uuid4()
    sealed = vault.seal(pid, IDENTITY)
    assert b"Amina" not in sealed.ciphertext
    assert vault.open(pid, sealed) == IDENTITY
    other = vault.seal(uuid.uuid4(), IDENTITY)
    assert other.wrapped_key != sealed.wrapped_key  # a key per participant


def test_a_ciphertext_moved_to_another_participant_does_not_open() -> None:
    vault = Vault(new_vault_key())
    pid, other = uuid.uuid4(), uuid.uuid4()
    sealed = vault.seal(pid, IDENTITY)
    with pytest.raises(InvalidTag):
        vault.open(other, sealed)


def test_altered_ciphertext_or_another_vault_key_does_not_open() -> None:
    vault = Vault(new_vault_key())
    pid = uuid.uuid4()
    sealed = vault.seal(pid, IDENTITY)
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(InvalidTag):
        vault.open(pid, Sealed(sealed.wrapped_key, sealed.nonce, flipped))
    with pytest.raises(InvalidTag):
        Vault(new_vault_key()).open(pid, sealed)


def test_blind_index_tokens_are_keyed() -> None:
    key = new_vault_key()
    assert Vault(key).index_token("name:668") == Vault(key).index_token("name:668")
    assert Vault(key).index_token("name:668") != Vault(new_vault_key()).index_token("name:668")


@pytest.mark.parametrize("bad", ["", "c2hvcnQ=", "not base64!"])
def test_a_vault_key_must_be_32_bytes_of_base64(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  # binascii.Error is a ValueError too
        Vault(bad)
