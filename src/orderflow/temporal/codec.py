"""Payload encryption: order data (names, addresses, payment tokens) never sits in
Temporal's history in plain text.

AES-256-GCM per payload, a fresh 96-bit nonce each time; the key id travels in the
payload's metadata, so keys can rotate: new payloads use the current key, old ones are
decrypted with whichever key id they name. On by default: with no keys configured, every
process of one data directory uses the key kept there (``encryption.key``, made on first
use, owner-only). Configure shared keys with ``ORDERFLOW_ENCRYPTION_KEYS``
(``id:base64key,...``; generate one with ``orderflow keygen``) and optionally
``ORDERFLOW_ENCRYPTION_KEY_ID`` (default: the first key).
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from orderflow.config import owner_only_secret

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class KeyConfigError(ValueError):
    """The configured keys cannot be used; the message says which and why."""


class DecryptionError(ValueError):
    """A payload does not decrypt: unknown key id, wrong key, or tampered with."""


def parse_keys(raw: str) -> dict[str, bytes]:
    """``id:base64key,id2:base64key`` -> {id: 32-byte key}."""
    keys: dict[str, bytes] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id:
            raise KeyConfigError("ORDERFLOW_ENCRYPTION_KEYS entries must look like 'id:base64key'")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError as err:
            raise KeyConfigError(f"encryption key {key_id!r} is not valid base64") from err
        if len(key) != 32:
            raise KeyConfigError(f"encryption key {key_id!r} must be 32 bytes (AES-256)")
        keys[key_id] = key
    return keys


#: The data directory's own key (made on first use when no keys are configured).
KEY_FILE = "encryption.key"


def local_key(data_dir: Path) -> str:
    """The ``id:base64key`` entry kept in ``data_dir``, made (owner-only) if there is none.

    Safe when processes start together: the file is created exclusively, and a process
    that loses the race reads the winner's key.
    """
    path = data_dir / KEY_FILE
    owner_only_secret(path, lambda: new_key_entry(f"local-{os.urandom(4).hex()}"))
    return _read_key(path)


def _read_key(path: Path) -> str:
    entry = path.read_text().strip()
    if not entry:
        raise KeyConfigError(f"{path} is empty; delete it to make a new key")
    parse_keys(entry)  # refuse a damaged file with a clear message
    return entry


def key_ids(raw: str) -> str:
    """The key ids of ``raw`` ("id:base64key,..."), the current one first: safe to print."""
    return ", ".join(parse_keys(raw)) if raw.strip() else ""


def new_key_entry(key_id: str) -> str:
    """A fresh ``id:base64key`` entry for ``ORDERFLOW_ENCRYPTION_KEYS``."""
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


class EncryptionCodec(PayloadCodec):
    """Encrypts every payload with the current key; decrypts with the key it names."""

    def __init__(self, keys: Mapping[str, bytes], current: str | None = None) -> None:
        if not keys:
            raise KeyConfigError("no encryption keys configured")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current = current or next(iter(keys))
        if self.current not in self._ciphers:
            raise KeyConfigError(f"current key id {self.current!r} is not among the keys")

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload (its metadata and data) into one opaque payload."""
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt payloads we encrypted; pass any others through unchanged."""
        return [self._decrypt(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.current.encode()
        # The key id is authenticated as associated data: swapping it breaks decryption.
        sealed = self._ciphers[self.current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"payload encrypted with unknown key id {key_id!r}")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode()))
        except InvalidTag as err:
            raise DecryptionError(
                f"payload does not decrypt with key {key_id!r}: wrong key or tampered with"
            ) from err


def data_converter(keys_raw: str, current: str | None = None) -> DataConverter:
    """The pydantic converter (Decimal-exact), encrypted when keys are configured."""
    if not keys_raw.strip():
        return pydantic_data_converter
    codec = EncryptionCodec(parse_keys(keys_raw), current or None)
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)
