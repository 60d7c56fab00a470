"""Passwords: hashed with argon2, off the event loop."""

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against a real hash when the user does not exist keeps login time the same either way.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


async def hash_password(password: str) -> str:
    # argon2 costs ~50 ms of CPU on purpose: in a thread, so the event loop keeps serving other requests.
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """False without a hash (no such user), after the same work as with one."""
    return await asyncio.to_thread(_verify, password_hash or _DUMMY_HASH, password) and password_hash is not None
