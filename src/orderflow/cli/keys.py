"""``orderflow keygen``: a payload-encryption key."""

from __future__ import annotations

from typing import Annotated

import typer


def keygen(key_id: Annotated[str, typer.Argument(help="A name for the key.")] = "k1") -> None:
    """Print a new AES-256 key entry for ORDERFLOW_ENCRYPTION_KEYS (payload encryption)."""
    from orderflow.temporal.codec import new_key_entry

    typer.echo(new_key_entry(key_id))
