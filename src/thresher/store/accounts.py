"""Users, project roles, API keys and browser sessions.

Passwords are hashed with argon2 (argon2-cffi's defaults). API keys and session tokens are
long random secrets, so a sha256 of them is enough to make a stolen table useless.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from thresher.errors import ConfigError, Conflict, NotFound
from thresher.store import tables as t

Role = Literal["owner", "engineer", "reviewer", "annotator", "app"]
ROLES: tuple[str, ...] = get_args(Role)
MEMBER_ROLES: tuple[str, ...] = ("owner", "engineer", "reviewer", "annotator")  # `app` is for keys only
KEY_PREFIX = "thr_"
SESSION_DAYS = 14

_hasher = PasswordHasher()


def _now() -> datetime:
    return datetime.now(UTC)


def sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite hands back naive UTC


@dataclass(frozen=True)
class User:
    id: int
    name: str
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True)
class Membership:
    user: str
    project: str
    role: str
    skills: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    project: str
    project_id: int
    role: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked: bool = False


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


class Accounts:
    """Repository of users, memberships, API keys and sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Bumped whenever access may have shrunk (a key revoked, a project deleted), so what a
        # server remembers of a key's access (``server/deps.py``) is checked again.
        self.generation = 0
        self._marking: set[str] = set()  # keys whose last use a thread of this process is writing
        self._marking_lock = threading.Lock()

    # -- users ----------------------------------------------------------------------------

    def create_user(self, name: str, password: str, *, is_admin: bool = False) -> User:
        if len(password) < 8:
            raise ConfigError("a password needs at least 8 characters")
        now = _now()
        try:
            with self.engine.begin() as conn:
                uid = conn.execute(
                    insert(t.users)
                    .values(name=name, password_hash=_hasher.hash(password), is_admin=is_admin, created_at=now)
                    .returning(t.users.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(f"user {name!r} already exists") from None
        return User(uid, name, is_admin, now)

    def get_user(self, name: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
        if row is None:
            raise NotFound(f"no user named {name!r}")
        return User(row.id, row.name, bool(row.is_admin), row.created_at)

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.users).order_by(t.users.c.name)).all()
        return [User(r.id, r.name, bool(r.is_admin), r.created_at) for r in rows]

    def count_users(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(t.users.c.id).limit(1)).all())

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password matches, else None (same work either way: no user oracle)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(stored):
            with self.engine.begin() as conn:
                conn.execute(update(t.users).where(t.users.c.id == row.id).values(password_hash=_hasher.hash(password)))
        return User(row.id, row.name, bool(row.is_admin), row.created_at)

    def set_password(self, name: str, password: str) -> None:
        if len(password) < 8:
            raise ConfigError("a password needs at least 8 characters")
        user = self.get_user(name)
        with self.engine.begin() as conn:
            conn.execute(update(t.users).where(t.users.c.id == user.id).values(password_hash=_hasher.hash(password)))
            conn.execute(delete(t.sessions).where(t.sessions.c.user_id == user.id))  # log out everywhere

    # -- memberships ----------------------------------------------------------------------

    def set_role(
        self,
        user: str,
        project_id: int,
        role: str,
        *,
        skills: list[str] | None = None,
        languages: list[str] | None = None,
    ) -> None:
        if role not in MEMBER_ROLES:
            raise ConfigError(f"role {role!r}: expected one of {', '.join(MEMBER_ROLES)}")
        u = self.get_user(user)
        m = t.memberships
        values = {
            "role": role,
            "skills": orjson.dumps(skills or []).decode(),
            "languages": orjson.dumps(languages or []).decode(),
        }
        with self.engine.begin() as conn:
            exists = conn.execute(select(m.c.role).where(m.c.user_id == u.id, m.c.project_id == project_id)).first()
            if exists:
                conn.execute(update(m).where(m.c.user_id == u.id, m.c.project_id == project_id).values(**values))
            else:
                conn.execute(insert(m).values(user_id=u.id, project_id=project_id, **values))

    def remove_member(self, user: str, project_id: int) -> None:
        u = self.get_user(user)
        m = t.memberships
        with self.engine.begin() as conn:
            conn.execute(delete(m).where(m.c.user_id == u.id, m.c.project_id == project_id))

    def role_of(self, user_id: int, project_id: int) -> str | None:
        m = t.memberships
        with self.engine.connect() as conn:
            row = conn.execute(select(m.c.role).where(m.c.user_id == user_id, m.c.project_id == project_id)).first()
        return row.role if row else None

    def members(self, project_id: int) -> list[Membership]:
        m, u, p = t.memberships, t.users, t.projects
        q = (
            select(u.c.name, p.c.name.label("project"), m.c.role, m.c.skills, m.c.languages)
            .join(u, u.c.id == m.c.user_id)
            .join(p, p.c.id == m.c.project_id)
            .where(m.c.project_id == project_id)
            .order_by(u.c.name)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [Membership(r.name, r.project, r.role, orjson.loads(r.skills), orjson.loads(r.languages)) for r in rows]

    def project_ids_of(self, user_id: int) -> list[int]:
        m = t.memberships
        with self.engine.connect() as conn:
            return [r.project_id for r in conn.execute(select(m.c.project_id).where(m.c.user_id == user_id))]

    # -- API keys -------------------------------------------------------------------------

    def create_key(self, project_id: int, role: str, name: str, created_by: int | None = None) -> tuple[ApiKey, str]:
        """A new key; the secret is returned here once and never stored."""
        if role not in ROLES:
            raise ConfigError(f"role {role!r}: expected one of {', '.join(ROLES)}")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        kid = secrets.token_hex(8)
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.api_keys).values(
                    id=kid,
                    key_hash=sha256(secret),
                    prefix=secret[:10],
                    name=name,
                    project_id=project_id,
                    role=role,
                    created_by=created_by,
                    created_at=now,
                )
            )
        return self.get_key(kid), secret

    def _key_query(self) -> Any:
        k = t.api_keys
        return select(k, t.projects.c.name.label("project")).join(t.projects, t.projects.c.id == k.c.project_id)

    @staticmethod
    def _key(row: Any) -> ApiKey:
        return ApiKey(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            project=row.project,
            project_id=row.project_id,
            role=row.role,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked=row.revoked_at is not None,
        )

    def get_key(self, key_id: str) -> ApiKey:
        with self.engine.connect() as conn:
            row = conn.execute(self._key_query().where(t.api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFound(f"no API key {key_id!r}")
        return self._key(row)

    def list_keys(self, project_id: int) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                self._key_query().where(t.api_keys.c.project_id == project_id).order_by(t.api_keys.c.created_at)
            ).all()
        return [self._key(r) for r in rows]

    def revoke_key(self, key_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.api_keys).where(t.api_keys.c.id == key_id).values(revoked_at=_now()))
        self.generation += 1

    def key_for_secret(self, secret: str) -> ApiKey | None:
        """The live key with this secret, or None. Marks it used (at most once a minute)."""
        if not secret.startswith(KEY_PREFIX):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(self._key_query().where(t.api_keys.c.key_hash == sha256(secret))).first()
        if row is None or row.revoked_at is not None:
            return None
        now = _now()
        if row.last_used_at is None or now - _aware(row.last_used_at) > timedelta(minutes=1):
            self._mark_used(row.id, now)
        return self._key(row)

    def _mark_used(self, key_id: str, now: datetime) -> None:
        # One request writes it; the others that saw it stale meanwhile go on (a busy app's
        # requests would otherwise all queue for the write lock, once a minute).
        with self._marking_lock:
            if key_id in self._marking:
                return
            self._marking.add(key_id)
        try:
            with self.engine.begin() as conn:
                conn.execute(update(t.api_keys).where(t.api_keys.c.id == key_id).values(last_used_at=now))
        finally:
            with self._marking_lock:
                self._marking.discard(key_id)

    # -- sessions -------------------------------------------------------------------------

    def create_session(self, user: User) -> tuple[str, Session]:
        """A new browser session; returns the cookie token (stored only as its sha256)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = _now()
        expires = now + timedelta(days=SESSION_DAYS)
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.sessions).values(
                    token_hash=sha256(token), user_id=user.id, csrf_token=csrf, created_at=now, expires_at=expires
                )
            )
        return token, Session(user, csrf, expires)

    def session(self, token: str) -> Session | None:
        s, u = t.sessions, t.users
        q = (
            select(s.c.csrf_token, s.c.expires_at, u)
            .join(u, u.c.id == s.c.user_id)
            .where(s.c.token_hash == sha256(token))
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None or _aware(row.expires_at) < _now():
            return None
        return Session(
            User(row.id, row.name, bool(row.is_admin), row.created_at), row.csrf_token, _aware(row.expires_at)
        )

    def end_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.token_hash == sha256(token)))


_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
