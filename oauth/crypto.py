"""Encryption at rest for access tokens and client secrets: Fernet keys through MultiFernet."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["DecryptionError", "TokenCipher"]


class DecryptionError(Exception):
    """Raised when no configured key decrypts a value; the value itself is never included."""


class TokenCipher:
    """Encrypt with the first key; decrypt with any key, so old values survive a key rotation."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("TOKEN_ENCRYPTION_KEYS is empty: at least one Fernet key is needed")
        self._fernets = [Fernet(key) for key in keys]
        self._multi = MultiFernet(self._fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._multi.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise DecryptionError(
                "a stored value cannot be decrypted with any key in TOKEN_ENCRYPTION_KEYS; "
                "add the key it was encrypted with"
            ) from None

    def rotate(self, ciphertext: str) -> str:
        """Return `ciphertext` re-encrypted with the first key."""
        try:
            return self._multi.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise DecryptionError(
                "a stored value cannot be decrypted with any key in TOKEN_ENCRYPTION_KEYS; "
                "add the key it was encrypted with"
            ) from None
