"""Password hashing (Argon2id, argon2-cffi) and TOTP second factors (pyotp)."""

from eki_adapters.passwords.argon2id import Argon2PasswordHasher
from eki_adapters.passwords.totp import TotpSecondFactor

__all__ = ["Argon2PasswordHasher", "TotpSecondFactor"]
