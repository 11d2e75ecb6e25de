import uuid

import pytest
from cryptography.exceptions import InvalidTag

from intake.vault import (
    LEGACY_KEY_ID,
    Sealed,
    UnknownVaultKey,
    Vault,
    derived_index_key,
    new_vault_key,
)

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


def test_a_rotated_vault_opens_old_and_new_keys_and_rewraps_to_the_current() -> None:
    old, new, index = new_vault_key(), new_vault_key(), new_vault_key()
    pid = uuid.uuid4()
    sealed = Vault(old, index_key_b64=index).seal(pid, IDENTITY)
    assert sealed.wrapped_key.key_id == LEGACY_KEY_ID
    rotating = Vault(new, key_id="k2", retired={LEGACY_KEY_ID: old}, index_key_b64=index)
    assert rotating.open(pid, sealed) == IDENTITY
    assert rotating.seal(pid, IDENTITY).wrapped_key.key_id == "k2"  # new keys: the new master
    moved = rotating.rewrap(pid, sealed.wrapped_key)
    assert moved.key_id == "k2"
    assert moved.blob != sealed.wrapped_key.blob
    after = Vault(new, key_id="k2", index_key_b64=index)  # the old master removed
    assert after.open(pid, Sealed(moved, sealed.nonce, sealed.ciphertext)) == IDENTITY
    with pytest.raises(UnknownVaultKey, match="'k1' is not configured"):
        after.open(pid, sealed)


def test_the_blind_index_does_not_change_with_the_master_key() -> None:
    first, second = new_vault_key(), new_vault_key()
    legacy = Vault(first)  # the first version: the index key derived from the vault key
    assert not legacy.can_rotate
    kept = derived_index_key(first)
    moved = Vault(second, key_id="k2", retired={"k1": first}, index_key_b64=kept)
    assert moved.can_rotate
    assert moved.index_token("name:668") == legacy.index_token("name:668")
    # A new master without the index's own key would give every token anew: refused.
    with pytest.raises(ValueError, match="DURCHSTARTEN_BLIND_INDEX_KEY"):
        Vault(second, key_id="k2")
    with pytest.raises(ValueError, match="DURCHSTARTEN_BLIND_INDEX_KEY"):
        Vault(second, retired={"k0": first})


def test_one_id_for_two_master_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="both current and retired"):
        Vault(
            new_vault_key(),
            key_id="k2",
            retired={"k2": new_vault_key()},
            index_key_b64=new_vault_key(),
        )
