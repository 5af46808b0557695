"""Secrets: the OS keyring behind a timeout, a names-only index, and the one resolver.

Where a secret comes from is decided in one place, ``resolve_secret``: the environment override of
its kind (``ABSEG_WRITE_KEY``...) first, then the reference it was given (``env:VAR`` or
``keyring:NAME``). Values live only in the OS keyring under the service ``abseg``; files hold names.
There is no plain-text fallback: without a usable keyring the caller gets ``CredentialError`` (exit 3)
saying how to fix it. ``keyring`` is imported only when a secret is actually needed.
"""

from __future__ import annotations

import os
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar

from abseg.errors import BadInput, CredentialError
from abseg.paths import atomic_write_text, config_dir

KEYRING_SERVICE = "abseg"
KEYRING_TIMEOUT_ENV = "ABSEG_KEYRING_TIMEOUT"
DEFAULT_KEYRING_TIMEOUT = 3.0
INDEX_FILE = "keys.toml"

T = TypeVar("T")


class SecretKind(str, Enum):
    WRITE_KEY = "write-key"
    PROFILE_TOKEN = "profile-token"
    DECISION_API_KEY = "decision-api-key"

    @property
    def env_var(self) -> str:
        return {
            SecretKind.WRITE_KEY: "ABSEG_WRITE_KEY",
            SecretKind.PROFILE_TOKEN: "ABSEG_PROFILE_TOKEN",
            SecretKind.DECISION_API_KEY: "ABSEG_DECISION_API_KEY",
        }[self]

    @property
    def label(self) -> str:
        return {
            SecretKind.WRITE_KEY: "Segment write key",
            SecretKind.PROFILE_TOKEN: "Profile API token",
            SecretKind.DECISION_API_KEY: "Decision API key",
        }[self]


# --- masking -------------------------------------------------------------------------------------

_known_secrets: set[str] = set()
_known_lock = threading.Lock()


def mask(value: str) -> str:
    """At most the first 4 and last 2 characters: enough to tell keys apart, useless to an attacker."""
    if len(value) >= 16:
        return f"{value[:4]}...{value[-2:]}"
    if len(value) >= 8:
        return f"{value[:2]}..."
    return "***"


def remember_secret(value: str) -> None:
    """Register a secret so ``redact`` masks it wherever it might surface (traces, errors).

    Also the forms it travels in: percent-encoded in a URL path (the settings CDN's) and base64 in a
    Basic ``Authorization`` header, each as good as the secret itself.
    """
    if len(value) < 4:
        return
    import base64
    from urllib.parse import quote

    forms = {value, quote(value, safe=""), base64.b64encode(f"{value}:".encode()).decode()}
    with _known_lock:
        _known_secrets.update(forms)


def redact(text: str) -> str:
    """``text`` with every secret this process has seen replaced by its mask."""
    with _known_lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, mask(secret))
    return text


# --- validation ----------------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WRITE_KEY_SHAPE = re.compile(r"^[A-Za-z0-9]{32}$")


def check_key_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadInput(
            f"invalid key name {name!r}",
            hint="use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def check_secret_value(value: str, kind: SecretKind) -> list[str]:
    """Refuse values that cannot be right; return warnings for ones that merely look unusual.

    Messages never echo the value: it is a secret even when it is wrong.
    """
    if not value:
        raise BadInput(f"the {kind.label} is empty", hint="paste the key again, or pipe it in with --stdin")
    if any(ch.isspace() for ch in value):
        raise BadInput(
            f"the {kind.label} contains whitespace",
            hint="copy the key alone, without spaces or line breaks inside it",
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise BadInput(f"the {kind.label} contains control characters", hint="copy the key again as plain text")
    warnings = []
    if kind is SecretKind.WRITE_KEY and not _WRITE_KEY_SHAPE.match(value):
        warnings.append(
            f"this does not look like a Segment write key (those are 32 letters and digits; "
            f"this one has {len(value)} characters): stored anyway, check it with `abseg key check`"
        )
    return warnings


# --- the OS keyring ------------------------------------------------------------------------------

_KEYRING_FIX = (
    "install and unlock a Secret Service (e.g. gnome-keyring) or another OS keyring, "
    "or set {env} for this run"
)


def _keyring_hint(kind: SecretKind | None) -> str:
    env = kind.env_var if kind else "ABSEG_WRITE_KEY / ABSEG_PROFILE_TOKEN / ABSEG_DECISION_API_KEY"
    return _KEYRING_FIX.format(env=env)


def keyring_timeout() -> float:
    raw = os.environ.get(KEYRING_TIMEOUT_ENV)
    try:
        return float(raw) if raw else DEFAULT_KEYRING_TIMEOUT
    except ValueError:
        raise BadInput(f"{KEYRING_TIMEOUT_ENV} must be a number of seconds, not {raw!r}") from None


class OSKeyring:
    """The OS keyring, every call bounded by a timeout (a hung D-Bus must not hang CI)."""

    def __init__(self, timeout: float | None = None):
        self.timeout = keyring_timeout() if timeout is None else timeout
        self._backend: Any = None

    def get(self, name: str, kind: SecretKind | None = None) -> str | None:
        return self._call(lambda b: b.get_password(KEYRING_SERVICE, name), "read from", kind)

    def set(self, name: str, value: str, kind: SecretKind | None = None) -> None:
        self._call(lambda b: b.set_password(KEYRING_SERVICE, name, value), "write to", kind)

    def delete(self, name: str, kind: SecretKind | None = None) -> bool:
        """Delete the entry; ``False`` when there was none."""

        def remove(backend: Any) -> bool:
            from keyring.errors import PasswordDeleteError

            try:
                backend.delete_password(KEYRING_SERVICE, name)
            except PasswordDeleteError:
                return False
            return True

        return self._call(remove, "delete from", kind)

    def backend_name(self) -> str:
        backend = self._usable_backend(None)
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def _usable_backend(self, kind: SecretKind | None) -> Any:
        if self._backend is None:
            self._backend = _bounded(self._find_backend, self.timeout, kind, "start")
        return self._backend

    @staticmethod
    def _find_backend() -> Any:
        import keyring
        from keyring.backends import chainer, fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring) or (
            isinstance(backend, chainer.ChainerBackend) and not backend.backends
        ):
            raise _NoKeyring("no OS keyring is available")
        module = type(backend).__module__
        if module.startswith("keyrings.alt") or module.startswith("keyring.backends.null"):
            # keyrings.alt stores secrets in plain-text files: exactly what abseg promises never to do.
            raise _NoKeyring(f"the keyring backend {module} does not keep secrets safe and is refused")
        return backend

    def _call(self, operation: Callable[[Any], T], verb: str, kind: SecretKind | None) -> T:
        backend = self._usable_backend(kind)
        return _bounded(lambda: operation(backend), self.timeout, kind, verb)


class _NoKeyring(Exception):
    pass


def _bounded(work: Callable[[], T], timeout: float, kind: SecretKind | None, verb: str) -> T:
    """Run a keyring call in a daemon thread and give up after ``timeout`` seconds."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # re-raised below in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="abseg-keyring", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise CredentialError(
            f"the OS keyring did not answer within {timeout:g}s",
            hint=f"unlock or restart it (a locked Secret Service may be waiting for a password), or set "
            f"{kind.env_var if kind else 'the ABSEG_* secret variable'} for this run",
        )
    error = outcome.get("error")
    if error is None:
        return outcome["value"]
    if isinstance(error, _NoKeyring):
        raise CredentialError(str(error), hint=_keyring_hint(kind)) from None
    what = "the OS keyring" if verb == "start" else f"could not {verb} the OS keyring"
    reason = redact(str(error)) or type(error).__name__
    message = f"{what} failed: {reason}" if verb == "start" else f"{what}: {reason}"
    raise CredentialError(" ".join(message.split())[:300], hint=_keyring_hint(kind)) from None


# --- the names-only index ------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyEntry:
    name: str
    kind: SecretKind
    created_at: str


class KeyIndex:
    """Names and kinds of stored keys (keyrings cannot list their entries). Never values."""

    def __init__(self, path: Path | None = None):
        self.path = path or config_dir() / INDEX_FILE

    def entries(self) -> dict[str, KeyEntry]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise BadInput(f"cannot read the key index {self.path}: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
            return {
                name: KeyEntry(name, SecretKind(item["kind"]), str(item.get("created_at", "")))
                for name, item in data.get("keys", {}).items()
            }
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise BadInput(
                f"the key index {self.path} is damaged",
                hint="delete it and run `abseg key set` again for each key (the secrets stay in the keyring)",
            ) from None

    def get(self, name: str) -> KeyEntry | None:
        return self.entries().get(name)

    def add(self, name: str, kind: SecretKind) -> KeyEntry:
        entries = self.entries()
        entry = KeyEntry(name, kind, datetime.now(UTC).replace(microsecond=0).isoformat())
        entries[name] = entry
        self._write(entries)
        return entry

    def remove(self, name: str) -> bool:
        entries = self.entries()
        if entries.pop(name, None) is None:
            return False
        self._write(entries)
        return True

    def _write(self, entries: dict[str, KeyEntry]) -> None:
        import tomli_w

        document = {
            "keys": {e.name: {"kind": e.kind.value, "created_at": e.created_at} for e in entries.values()}
        }
        header = "# abseg key index: names only. The secrets themselves are in the OS keyring.\n"
        atomic_write_text(self.path, header + tomli_w.dumps(document))


# --- resolution ----------------------------------------------------------------------------------

Source = Literal["env", "keyring"]


@dataclass(frozen=True)
class ResolvedSecret:
    kind: SecretKind
    source: Source
    origin: str  # "ABSEG_WRITE_KEY", "env:MY_VAR" or "keyring:prod": where it was read, never the value
    value: str = field(repr=False)

    @property
    def masked(self) -> str:
        return mask(self.value)


def parse_reference(reference: str) -> tuple[Source, str]:
    """``env:VAR`` or ``keyring:NAME`` (a bare name means the keyring)."""
    scheme, sep, rest = reference.partition(":")
    if not sep:
        return "keyring", check_key_name(reference)
    if scheme == "keyring" and rest:
        return "keyring", check_key_name(rest)
    if scheme == "env" and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", rest):
        return "env", rest
    raise BadInput(
        f"invalid secret reference {reference!r}", hint="use keyring:NAME or env:VARIABLE"
    )


def env_override(kind: SecretKind) -> ResolvedSecret | None:
    value = os.environ.get(kind.env_var)
    if not value:
        return None
    remember_secret(value)
    return ResolvedSecret(kind, "env", kind.env_var, value)


def resolve_secret(kind: SecretKind, reference: str | None, keyring: OSKeyring | None = None) -> ResolvedSecret:
    """The secret to use for ``kind``: the env override first, then ``reference``."""
    override = env_override(kind)
    if override:
        return override
    if not reference:
        raise CredentialError(
            f"no {kind.label} is configured",
            hint=f"store one with `abseg key set NAME --kind {kind.value}`, or set {kind.env_var}",
        )
    source, name = parse_reference(reference)
    if source == "env":
        value = os.environ.get(name)
        if not value:
            raise CredentialError(f"the {kind.label} variable {name} is not set", hint=f"export {name}")
        remember_secret(value)
        return ResolvedSecret(kind, "env", f"env:{name}", value)
    return resolve_secret_from_keyring(name, kind, keyring)


# --- the key commands' core ----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyStatus:
    """One row of ``abseg key list``: where the secret in use comes from, masked."""

    name: str
    kind: SecretKind
    source: Source
    origin: str
    masked: str | None  # None: the index names it but the keyring has no value ("missing")
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "source": self.source,
            "origin": self.origin,
            "value": self.masked,
            "status": "ok" if self.masked else ("unavailable" if self.problem else "missing"),
            **({"problem": self.problem} if self.problem else {}),
        }


def store_key(name: str, kind: SecretKind, value: str, keyring: OSKeyring | None = None) -> list[str]:
    """Save ``value`` in the keyring under ``name`` and record the name; return shape warnings."""
    check_key_name(name)
    warnings = check_secret_value(value, kind)
    remember_secret(value)
    (keyring or OSKeyring()).set(name, value, kind)
    KeyIndex().add(name, kind)
    return warnings


def delete_key(name: str, keyring: OSKeyring | None = None) -> None:
    check_key_name(name)
    index = KeyIndex()
    entry = index.get(name)
    removed = (keyring or OSKeyring()).delete(name, entry.kind if entry else None)
    listed = index.remove(name)
    if not (removed or listed):
        raise CredentialError(f"no key named {name!r}", hint="see the stored names with `abseg key list`")


def read_key(name: str, keyring: OSKeyring | None = None) -> ResolvedSecret:
    """The stored secret ``abseg key get NAME`` prints: always the keyring's own value.

    An env override changes what other commands use, not what is stored under NAME: ``key get`` is
    how a key is copied (into AB Tasty's Integration Hub), so it must be the one the user stored.
    """
    check_key_name(name)
    entry = KeyIndex().get(name)
    return resolve_secret_from_keyring(name, entry.kind if entry else SecretKind.WRITE_KEY, keyring)


def shadowing_override(name: str) -> str | None:
    """A warning when an env override makes other commands use something else than key NAME."""
    entry = KeyIndex().get(name)
    if entry and os.environ.get(entry.kind.env_var):
        return (
            f"{entry.kind.env_var} is set: other abseg commands use it instead of the stored key {name!r} "
            f"(unset it to use the stored one)"
        )
    return None


def resolve_secret_from_keyring(name: str, kind: SecretKind, keyring: OSKeyring | None = None) -> ResolvedSecret:
    value = (keyring or OSKeyring()).get(name, kind)
    if value is None:
        raise CredentialError(
            f"no key named {name!r} in the OS keyring",
            hint=f"store it with `abseg key set {name} --kind {kind.value}`, or set {kind.env_var}",
        )
    remember_secret(value)
    return ResolvedSecret(kind, "keyring", f"keyring:{name}", value)


def list_keys(keyring: OSKeyring | None = None) -> tuple[list[KeyStatus], list[str]]:
    """Every stored name plus every env override, with the source that would be used; and warnings.

    Fails with exit 3 only when nothing at all can be shown: no env override and no usable keyring.
    """
    keyring = keyring or OSKeyring()
    overrides = {kind: env_override(kind) for kind in SecretKind}
    entries = KeyIndex().entries()
    keyring_problem: CredentialError | None = None
    try:
        keyring.backend_name()
    except CredentialError as exc:
        if not any(overrides.values()):
            raise
        keyring_problem = exc
    rows: list[KeyStatus] = []
    for entry in entries.values():
        override = overrides[entry.kind]
        if override:
            rows.append(KeyStatus(entry.name, entry.kind, "env", override.origin, override.masked))
        elif keyring_problem:
            rows.append(KeyStatus(entry.name, entry.kind, "keyring", f"keyring:{entry.name}", None, "keyring unavailable"))
        else:
            value = keyring.get(entry.name, entry.kind)
            if value:
                remember_secret(value)
            rows.append(KeyStatus(entry.name, entry.kind, "keyring", f"keyring:{entry.name}", mask(value) if value else None))
    listed_kinds = {entry.kind for entry in entries.values()}
    for kind, override in overrides.items():
        if override and kind not in listed_kinds:
            rows.append(KeyStatus(kind.env_var, kind, "env", override.origin, override.masked))
    warnings = [keyring_problem.one_line()] if keyring_problem else []
    return rows, warnings
