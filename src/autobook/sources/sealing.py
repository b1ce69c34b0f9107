"""Sealing signing secrets, so the database never holds them in clear.

A signature scheme needs its secret to recompute the HMAC of each body, so the secret can't be
hashed like an API key. It is encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from the
`cryptography` package) under a key that is *not* in the database: `AUTOBOOK_SOURCE_SECRETS_KEY`
(a Fernet key; every `autobook serve` of a deployment needs the same one), or, when it is unset,
a key file `<data dir>/source-secrets.key` created on first use, readable by its owner only.
A copy of the database alone reveals no secret.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from autobook.config import Settings
from autobook.errors import AutobookError

KEY_FILE_NAME = "source-secrets.key"
KEY_VARIABLE = "AUTOBOOK_SOURCE_SECRETS_KEY"


class SealingError(AutobookError):
    """A source secret could not be sealed or unsealed."""


class Sealer:
    """Seals and unseals source secrets with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise SealingError(
                f"{KEY_VARIABLE} must be a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def unseal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError):
            raise SealingError(
                f"a source secret cannot be unsealed with this key: is {KEY_VARIABLE} (or "
                f"{KEY_FILE_NAME}) the one it was sealed with?"
            ) from None


def _key_file(settings: Settings, *, create: bool) -> bytes:
    path = Path(settings.data_dir) / KEY_FILE_NAME
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(Fernet.generate_key())
    try:
        return path.read_bytes().strip()
    except OSError as exc:
        raise SealingError(
            f"cannot read the source secrets key {path} ({exc.strerror}); set {KEY_VARIABLE}"
        ) from None


def sealer_for(settings: Settings, *, create: bool = False) -> Sealer:
    """The sealer of this deployment; `create` makes the key file when there is none yet."""
    given = settings.source_secrets_key
    if given is not None and given.get_secret_value().strip():
        return Sealer(given.get_secret_value().strip().encode())
    return Sealer(_key_file(settings, create=create))
