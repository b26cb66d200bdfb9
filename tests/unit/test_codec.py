"""Payload encryption: round trip, key rotation, tampering, configuration errors."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload

from orderflow.temporal.codec import (
    ENCODING,
    KEY_ID,
    DecryptionError,
    EncryptionCodec,
    KeyConfigError,
    new_key_entry,
    parse_keys,
)

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name": "Ada Lovelace"}')


async def test_a_payload_round_trips_and_is_opaque_in_between() -> None:
    codec = EncryptionCodec(parse_keys(new_key_entry("k1")))

    [sealed] = await codec.encode([PLAIN])
    [opened] = await codec.decode([sealed])

    assert b"Ada" not in sealed.data and b"json/plain" not in sealed.SerializeToString()
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"k1"
    assert opened == PLAIN


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec(parse_keys(new_key_entry("k1")))

    first, second = await codec.encode([PLAIN, PLAIN])

    assert first.data != second.data


async def test_after_rotation_old_payloads_still_decrypt_and_new_ones_use_the_new_key() -> None:
    old_entry, new_entry = new_key_entry("2025"), new_key_entry("2026")
    [old] = await EncryptionCodec(parse_keys(old_entry)).encode([PLAIN])
    rotated = EncryptionCodec(parse_keys(f"{new_entry},{old_entry}"))

    [new] = await rotated.encode([PLAIN])

    assert await rotated.decode([old]) == [PLAIN]
    assert new.metadata[KEY_ID] == b"2026"


async def test_a_tampered_payload_or_key_id_is_refused() -> None:
    keys = parse_keys(f"{new_key_entry('a')},{new_key_entry('b')}")
    codec = EncryptionCodec(keys)
    [sealed] = await codec.encode([PLAIN])
    flipped = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + b"\x00")
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"b"}, data=sealed.data)

    with pytest.raises(DecryptionError):
        await codec.decode([flipped])
    with pytest.raises(DecryptionError):
        await codec.decode([relabelled])


async def test_payloads_that_were_never_encrypted_pass_through() -> None:
    codec = EncryptionCodec(parse_keys(new_key_entry("k")))

    assert await codec.decode([PLAIN]) == [PLAIN]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("nocolon", "id:base64key"),
        ("k:not-base64!", "not valid base64"),
        ("k:c2hvcnQ=", "32 bytes"),
    ],
)
def test_bad_key_configuration_says_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message):
        parse_keys(raw)


def test_an_unknown_current_key_id_is_refused() -> None:
    with pytest.raises(KeyConfigError, match="'missing' is not among the keys"):
        EncryptionCodec(parse_keys(new_key_entry("k")), current="missing")
