"""API keys (stored as SHA-256 hashes) and HS256 JWT bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from audiowave.service.db import ApiKey, User
from audiowave.service.secret_files import create_once

KEY_PREFIX = "aw_"
TOKEN_TTL = timedelta(hours=12)


class AuthError(Exception):
    """Missing, malformed, revoked or expired credentials."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_user(session: Session, name: str) -> tuple[User, str]:
    """A new user and its first API key (returned once, stored only as a hash)."""
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise ValueError(f"user '{name}' already exists")
    user = User(name=name)
    session.add(user)
    session.flush()
    return user, issue_key(session, user)


def issue_key(session: Session, user: User) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(user_id=user.id, key_hash=hash_key(key), prefix=key[:10]))
    session.flush()
    return key


def user_for_key(session: Session, key: str) -> User:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        raise AuthError("invalid or revoked API key")
    return row.user


def load_or_create_secret(configured: str, home: Path) -> str:
    """The configured JWT secret, else one generated once and kept (mode 600) under the home directory."""
    if configured:
        return configured
    path = home / "jwt.secret"
    create_once(path, lambda staged: staged.write_text(secrets.token_urlsafe(48)))
    return path.read_text().strip()


def issue_token(user: User, secret: str, ttl: timedelta = TOKEN_TTL) -> str:
    now = datetime.now(UTC)
    return jwt.encode({"sub": user.id, "iat": now, "exp": now + ttl}, secret, algorithm="HS256")


def user_for_token(session: Session, token: str, secret: str) -> User:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    user = session.get(User, claims["sub"])
    if user is None:
        raise AuthError("token for an unknown user")
    return user
