"""Connectors: the local, validated record of one SegmentIO PUSH connector.

A connector says which Segment source (a write key *reference* and its region) receives the events of
which FE&R environment, which Segment identifier the app passes to the Decision API as visitor ID, and
how to reach the Decision API and, optionally, the Profile API. It lives in
``ABSEG_CONFIG_DIR/connectors/NAME.toml`` and holds references to secrets (``keyring:NAME``,
``env:VAR``), never a secret.

The pydantic model ``Connector`` is the one schema definition: it validates files (every problem at
once, with its field path and TOML line) and produces the published JSON Schema
(``connector.schema.json`` beside this module). Commands import this module inside their bodies, so
pydantic stays out of start-up.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError
from pydantic.json_schema import GenerateJsonSchema

from abseg.errors import AbsegError, BadInput, CheckFailed, CredentialError, ServiceError
from abseg.paths import atomic_write_text, connectors_dir
from abseg.secrets import OSKeyring, ResolvedSecret, SecretKind, resolve_secret
from abseg.settings_cdn import DEFAULT_CDN_URL, REGION_HOSTS

SCHEMA_VERSION = 1
MAX_FILE_BYTES = 1_000_000
SCHEMA_FILE = Path(__file__).with_name("connector.schema.json")

# Regions and the hosts that give them away; a URL override on the other region's host is a mistake.
SEGMENT_HOSTS = REGION_HOSTS
PROFILE_HOSTS = {"us": "profiles.segment.com", "eu": "profiles.euw1.segment.com"}
DEFAULT_DECISION_URL = "https://decision.flagship.io"
URL_ENV = {
    "segment": "ABSEG_SEGMENT_URL",
    "cdn": "ABSEG_SEGMENT_CDN_URL",
    "profile": "ABSEG_PROFILE_URL",
    "decision": "ABSEG_DECISION_URL",
}

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ENV_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
SPACE_ID_PATTERN = r"^spa_[A-Za-z0-9_-]{1,64}$"
REFERENCE_PATTERN = r"^(keyring:[A-Za-z0-9][A-Za-z0-9._-]{0,63}|env:[A-Za-z_][A-Za-z0-9_]*)$"
URL_PATTERN = r"^https?://[^\s/]+"
# Segment write keys are 32 letters and digits, and the other keys are long runs of them too: such a
# string where a reference belongs is a pasted secret, not a key name someone chose.
_KEY_LIKE = re.compile(r"^[A-Za-z0-9]{20,}$")


def _looks_like_secret(reference: str) -> bool:
    """A long run of letters and digits after ``keyring:`` or ``env:`` (or alone): a pasted secret.

    ``env:`` counts too: ``--write-key env:$SEGMENT_WRITE_KEY`` expands to the key itself.
    """
    name = reference.removeprefix("keyring:").removeprefix("env:")
    return bool(_KEY_LIKE.match(name))
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


# --- field checks (messages never echo a value that may be a secret) ----------------------------


def _check_name(value: str) -> str:
    if not value:
        raise ValueError("is empty")
    if not re.match(NAME_PATTERN, value):
        raise ValueError("must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if value.lower().endswith(".toml"):
        raise ValueError("must not end in '.toml' (that would read as a file path)")
    if value.split(".")[0].lower() in _WINDOWS_RESERVED:
        raise ValueError("is a reserved file name on Windows")
    return value


def _check_env_id(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty: copy the environment ID from AB Tasty (Settings > Feature Experimentation)")
    if not re.match(ENV_ID_PATTERN, value):
        raise ValueError(f"{value!r} is not an FE&R environment ID (letters, digits, '-' and '_', up to 64)")
    return value


def _check_space_id(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty: copy the space ID from Segment (Unify > Settings > API access)")
    if not re.match(SPACE_ID_PATTERN, value):
        raise ValueError(f"{value!r} is not a Segment space ID (they look like spa_ followed by letters and digits)")
    return value


def _check_reference(value: str) -> str:
    if _looks_like_secret(value):
        raise ValueError(
            "holds what looks like a secret value, not a reference: store the secret with "
            "`abseg key set NAME --stdin` and write keyring:NAME here (the value is not shown)"
        )
    if re.match(REFERENCE_PATTERN, value):
        return value
    if value.startswith(("keyring:", "env:")):
        raise ValueError("is not a valid reference: use keyring:NAME (1-64 letters, digits, '.', '_', '-') or env:VARIABLE")
    raise ValueError("must be a secret reference, keyring:NAME or env:VARIABLE (the value is not shown)")


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _described(check: Any, pattern: str, description: str) -> Any:
    """The check that validates a field, with the pattern editors use to flag it via the JSON Schema."""
    return (AfterValidator(check), Field(description=description, json_schema_extra={"pattern": pattern}))


ConnectorName = Annotated[str, *_described(_check_name, NAME_PATTERN, "The connector's name; equals the file name without .toml.")]
EnvId = Annotated[str, *_described(_check_env_id, ENV_ID_PATTERN, "AB Tasty FE&R environment ID.")]
SpaceId = Annotated[str, *_described(_check_space_id, SPACE_ID_PATTERN, "Segment Unify space ID (spa_...).")]
SecretReference = Annotated[
    str,
    *_described(_check_reference, REFERENCE_PATTERN, "Where the secret is: keyring:NAME (OS keyring) or env:VARIABLE. Never the secret itself."),
]
BaseUrl = Annotated[str, *_described(_check_url, URL_PATTERN, "Base URL overriding the service's default.")]


class _Section(BaseModel):
    # strict: TOML has real types, and a number where a string belongs is a mistake, not a conversion.
    model_config = ConfigDict(extra="forbid", strict=True)


class ProfileSettings(_Section):
    """Segment Profile API access: lets verify-match ask Segment whether a visitor ID is known."""

    space_id: SpaceId
    token: SecretReference = Field(description="Reference to the Profile API access token.")


class UrlOverrides(_Section):
    """Base URLs replacing the real services (a proxy, the sandbox). ABSEG_*_URL variables win over these."""

    segment: BaseUrl | None = None
    cdn: BaseUrl | None = None
    profile: BaseUrl | None = None
    decision: BaseUrl | None = None


class Connector(_Section):
    """One SegmentIO PUSH connector: which Segment source receives which FE&R environment's events."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        populate_by_name=True,
        title="abseg connector",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    # ``schema`` would shadow a BaseModel attribute, hence the alias.
    schema_version: Literal[1] = Field(alias="schema", description="File format version.")
    name: ConnectorName
    env_id: EnvId
    region: Literal["us", "eu"] = Field(description="Where the Segment source ingests: us or eu.")
    visitor_field: Literal["userId", "anonymousId"] = Field(
        description="The Segment identifier the app passes to the Decision API as visitor ID."
    )
    write_key: SecretReference = Field(description="Reference to the Segment source's write key.")
    decision_api_key: SecretReference | None = Field(default=None, description="Reference to the FE&R Decision API key.")
    profile: ProfileSettings | None = None
    urls: UrlOverrides | None = None

    _path: Path | None = PrivateAttr(default=None)

    # --- what the rest of abseg uses --------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The file it was loaded from, else where ``save_connector`` puts it."""
        return self._path or connector_path(self.name)

    @property
    def profile_space(self) -> str | None:
        return self.profile.space_id if self.profile else None

    @property
    def profile_token(self) -> str | None:
        return self.profile.token if self.profile else None

    def segment_url(self) -> str:
        return self._url("segment", f"https://{SEGMENT_HOSTS[self.region]}")

    def cdn_url(self) -> str:
        return self._url("cdn", DEFAULT_CDN_URL)

    def profile_url(self) -> str:
        return self._url("profile", f"https://{PROFILE_HOSTS[self.region]}")

    def decision_url(self) -> str:
        return self._url("decision", DEFAULT_DECISION_URL)

    def _url(self, service: str, default: str) -> str:
        override = getattr(self.urls, service) if self.urls else None
        return os.environ.get(URL_ENV[service]) or override or default

    def resolve_write_key(self, keyring: OSKeyring | None = None) -> ResolvedSecret:
        return resolve_secret(SecretKind.WRITE_KEY, self.write_key, keyring)

    def resolve_decision_api_key(self, keyring: OSKeyring | None = None) -> ResolvedSecret:
        return resolve_secret(SecretKind.DECISION_API_KEY, self.decision_api_key, keyring)

    def resolve_profile_token(self, keyring: OSKeyring | None = None) -> ResolvedSecret:
        return resolve_secret(SecretKind.PROFILE_TOKEN, self.profile_token, keyring)

    def references(self) -> dict[SecretKind, str | None]:
        return {
            SecretKind.WRITE_KEY: self.write_key,
            SecretKind.DECISION_API_KEY: self.decision_api_key,
            SecretKind.PROFILE_TOKEN: self.profile_token,
        }

    def to_toml(self) -> str:
        import tomli_w

        document = self.model_dump(by_alias=True, exclude_none=True)
        header = (
            f"# abseg connector {self.name!r}: secret references only, never secrets.\n"
            "# Format: `abseg connector schema` (JSON Schema); check it with `abseg connector validate`.\n"
        )
        return header + tomli_w.dumps(document)


class _TomlJsonSchema(GenerateJsonSchema):
    """TOML has no null: an optional key is one left out, so drop pydantic's null branch and default."""

    def nullable_schema(self, schema: Any) -> Any:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: Any) -> Any:
        if schema.get("default") is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def json_schema() -> dict[str, Any]:
    return Connector.model_json_schema(by_alias=True, schema_generator=_TomlJsonSchema)


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# --- reading files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a connector file, where it is, and what to do."""

    field: str  # dotted path, e.g. "profile.token"; "" for the file as a whole
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.field
        if self.line:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "line": self.line, "message": self.message}


@dataclass
class ConnectorReport:
    """What reading and checking one file found: a connector, problems (exit 1), or unreadable (exit 2)."""

    path: Path
    connector: Connector | None = None
    problems: list[Problem] = field(default_factory=list)
    unreadable: AbsegError | None = None
    declared_name: str | None = None  # the file's `name` when it is a string, even if invalid

    @property
    def valid(self) -> bool:
        return self.connector is not None and not self.problems and self.unreadable is None

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "path": str(self.path),
            "name": self.declared_name,
            "valid": self.valid,
            "problems": [p.as_json() for p in self.problems],
        }
        if self.unreadable:
            document["error"] = self.unreadable.one_line()
        return document


def connector_path(name_or_path: str) -> Path:
    """A value with a '/' or ending in .toml is a path; anything else a name under the connectors dir."""
    if "/" in name_or_path or os.sep in name_or_path or name_or_path.endswith(".toml"):
        return Path(name_or_path).expanduser()
    try:
        _check_name(name_or_path)
    except ValueError as exc:
        raise BadInput(f"invalid connector name {name_or_path!r}: it {exc}") from None
    return connectors_dir() / f"{name_or_path}.toml"


def read_document(path: Path) -> tuple[str, dict[str, Any]]:
    """The file's text and parsed TOML, or ``BadInput`` (exit 2) naming the file and the problem."""

    def refuse(problem: str, hint: str | None = None) -> BadInput:
        return BadInput(f"{path}: {problem}", hint=hint)

    if path.is_dir():
        raise refuse("is a directory, not a connector file")
    try:
        # Bounded read: a path may name a device or a pipe that never ends.
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise refuse("no such connector file", hint="see the connectors with `abseg connector list`") from None
    except OSError as exc:
        raise refuse(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise refuse("is over 1 MB; a connector file is a few hundred bytes, so it is refused")
    if not raw.strip():
        raise refuse("is empty", hint="recreate it with `abseg connector create NAME --force ...`")
    # tomllib rejects a byte-order mark; naming it beats the parser's "invalid statement at line 1".
    if raw.startswith(b"\xef\xbb\xbf"):
        raise refuse("starts with a byte-order mark (BOM)", hint="save it as UTF-8 without BOM")
    if b"\x00" in raw:
        raise refuse("is binary, not a TOML text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"is not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise refuse(f"is not valid TOML: {exc}") from None
    version = document.get("schema")
    if isinstance(version, int) and not isinstance(version, bool) and version != SCHEMA_VERSION:
        raise refuse(
            f"has schema version {version}; this abseg reads version {SCHEMA_VERSION}",
            hint="upgrade abseg" if version > SCHEMA_VERSION else "recreate it with `abseg connector create`",
        )
    return text, document


def inspect_file(path: Path) -> ConnectorReport:
    """Read and check one file; never raises for what is in the file."""
    report = ConnectorReport(path)
    try:
        text, document = read_document(path)
    except BadInput as exc:
        report.unreadable = exc
        return report
    if isinstance(document.get("name"), str):
        report.declared_name = document["name"]
    report.connector, report.problems = _checked(document, text, path)
    if report.connector is not None:
        report.connector._path = path
    return report


def _checked(document: dict[str, Any], text: str, path: Path) -> tuple[Connector | None, list[Problem]]:
    """The connector when the document is valid, and every problem found, in file order."""
    connector, problems = None, []
    try:
        connector = Connector.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            loc = tuple(str(part) for part in error["loc"])
            problems.append(Problem(".".join(loc), _message(error), _line_of(text, loc)))
    # Checked on the raw document so they are reported alongside type errors, not after them.
    name = document.get("name")
    if isinstance(name, str) and name and name != path.stem:
        problems.append(
            Problem("name", f"is {name!r} but the file is {path.name}: rename one to match", _line_of(text, ("name",)))
        )
    problems.extend(_region_conflicts(document, text))
    problems.sort(key=lambda p: p.line or 0)
    return (connector if not problems else None), problems


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (see `abseg connector schema` for the keys a connector has)"
    if kind == "missing":
        return "missing"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in ("string_type", "model_type", "dict_type", "int_type", "literal_error"):
        # pydantic's own words: "Input should be a valid string", "Input should be 'us' or 'eu'"
        return str(error["msg"]).replace("Input should", "should")
    return str(error["msg"])


def _region_conflicts(document: dict[str, Any], text: str) -> list[Problem]:
    region, urls = document.get("region"), document.get("urls")
    if not isinstance(region, str) or region not in SEGMENT_HOSTS or not isinstance(urls, dict):
        return []
    problems = []
    for service, hosts in (("segment", SEGMENT_HOSTS), ("profile", PROFILE_HOSTS)):
        url = urls.get(service)
        if not isinstance(url, str):
            continue
        host = (urlsplit(url).hostname or "").lower()
        for other, other_host in hosts.items():
            if other != region and host == other_host:
                problems.append(
                    Problem(
                        f"urls.{service}",
                        f"points at the {other.upper()} host {other_host} but region is {region!r}: "
                        "a key of one region is rejected or lost in the other",
                        _line_of(text, ("urls", service)),
                    )
                )
    return problems


_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _line_of(text: str, loc: tuple[str, ...]) -> int | None:
    """Best-effort line of the key at ``loc`` (or of its nearest enclosing table) for messages."""
    table: tuple[str, ...] = ()
    best: int | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if header := _TABLE.match(line):
            table = _dotted(header.group(1))
            if table == loc[: len(table)]:
                best = number
            continue
        if key := _KEY.match(line):
            full = table + _dotted(key.group(1))
            if full == loc:
                return number
            if full == loc[: len(full)]:
                best = number  # an inline table or array holding the key
    return best


def _dotted(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


def _invalid(report: ConnectorReport) -> CheckFailed:
    first, more = report.problems[0], len(report.problems) - 1
    extra = f" (and {more} more)" if more else ""
    return CheckFailed(
        f"connector {report.path} is invalid: {first}{extra}",
        hint=f"see every problem with `abseg connector validate {report.path}`",
    )


def load_connector(name_or_path: str) -> Connector:
    """The connector by name or path; ``BadInput`` (2) when missing or unreadable, ``CheckFailed`` (1) when invalid."""
    path = connector_path(name_or_path)
    if not path.exists():
        raise BadInput(f"no connector {name_or_path!r} ({path})", hint="see the connectors with `abseg connector list`")
    report = inspect_file(path)
    if report.unreadable:
        raise report.unreadable
    if report.connector is None:
        raise _invalid(report)
    return report.connector


def connector_files() -> list[Path]:
    directory = connectors_dir()
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.toml") if not p.name.startswith("."))


def select_connector(name_or_path: str | None) -> Connector:
    """``--connector``'s value, or when left out the only connector there is."""
    if name_or_path:
        return load_connector(name_or_path)
    files = connector_files()
    if not files:
        raise BadInput("no connector", hint="create one with `abseg connector create NAME --env-id ... --write-key ...`")
    if len(files) > 1:
        names = ", ".join(p.stem for p in files)
        raise BadInput(f"{len(files)} connectors exist ({names})", hint="pass --connector NAME")
    return load_connector(str(files[0]))


def list_connectors() -> list[ConnectorReport]:
    """Every file in the connectors dir, good and bad: one bad file never hides the others."""
    return mark_duplicates([inspect_file(path) for path in connector_files()])


def mark_duplicates(reports: list[ConnectorReport]) -> list[ConnectorReport]:
    """Add a problem to every report whose declared name another report also declares."""
    counts = Counter(r.declared_name for r in reports if r.declared_name and not r.unreadable)
    for report in reports:
        if report.declared_name and counts[report.declared_name] > 1 and not report.unreadable:
            others = [str(r.path) for r in reports if r is not report and r.declared_name == report.declared_name]
            report.problems.append(Problem("name", f"{report.declared_name!r} is also declared by {', '.join(others)}"))
            report.connector = None
    return reports


def validate_connectors(targets: list[str]) -> list[ConnectorReport]:
    """Reports for the named connectors or paths (all connectors when none), duplicates included."""
    if not targets:
        return list_connectors()
    return mark_duplicates([inspect_file(connector_path(target)) for target in targets])


# --- writing -------------------------------------------------------------------------------------


def reference_for(option: str, value: str) -> str:
    """A command-line key name (``prod``, ``keyring:prod`` or ``env:VAR``) as a file reference.

    People paste the secret itself here; the message must not echo it back into their terminal log.
    """
    from abseg.secrets import parse_reference

    hint = "store the secret with `abseg key set NAME --stdin` and pass NAME (a secret is never an argument)"
    if _looks_like_secret(value):
        raise BadInput(f"{option} looks like a secret value, not a key name (the value is not shown)", hint=hint)
    try:
        source, name = parse_reference(value)
    except BadInput:
        raise BadInput(f"{option} is not a key name or env:VARIABLE (the value is not shown)", hint=hint) from None
    return f"{source}:{name}"


def new_connector(
    name: str,
    *,
    env_id: str,
    write_key: str,
    region: str = "us",
    visitor_field: str = "userId",
    decision_api_key: str | None = None,
    profile_space: str | None = None,
    profile_token: str | None = None,
) -> Connector:
    """The connector ``abseg connector create`` describes; key options may be bare keyring names."""
    if (profile_space is None) != (profile_token is None):
        raise BadInput("--profile-space and --profile-token go together", hint="pass both, or neither")
    document: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "name": name,
        "env_id": env_id,
        "region": region,
        "visitor_field": visitor_field,
        "write_key": reference_for("--write-key", write_key),
    }
    if decision_api_key is not None:
        document["decision_api_key"] = reference_for("--decision-api-key", decision_api_key)
    if profile_space is not None and profile_token is not None:
        document["profile"] = {"space_id": profile_space, "token": reference_for("--profile-token", profile_token)}
    try:
        return Connector.model_validate(document)
    except ValidationError as exc:
        problems = [
            f"{_option_name(e['loc'])} {_message(e)}" for e in exc.errors(include_input=False, include_url=False)
        ]
        raise BadInput("; ".join(problems)) from None


def _option_name(loc: tuple[Any, ...]) -> str:
    path = ".".join(str(p) for p in loc)
    options = {"name": "NAME", "profile.space_id": "--profile-space", "profile.token": "--profile-token"}
    return options.get(path, "--" + path.replace("_", "-"))


def save_connector(connector: Connector, *, force: bool = False) -> Path:
    """Write the connector's file atomically (owner-only); refuse to replace one unless ``force``."""
    path = connector_path(connector.name)
    if path.exists() and not force:
        raise BadInput(f"connector {connector.name!r} already exists ({path})", hint="pass --force to replace it")
    atomic_write_text(path, connector.to_toml())
    return path


def delete_connector(name: str) -> Path:
    """Delete a connector by name. Never by path: a path can name any file at all."""
    if "/" in name or os.sep in name or name.endswith(".toml"):
        raise BadInput(
            f"connector delete takes a connector name, not a path ({name!r})",
            hint="see the names with `abseg connector list`",
        )
    path = connector_path(name)
    try:
        path.unlink()
    except FileNotFoundError:
        raise BadInput(f"no connector {name!r} ({path})", hint="see the connectors with `abseg connector list`") from None
    except OSError as exc:
        raise BadInput(f"cannot delete {path}: {exc.strerror}") from None
    return path


def missing_key_warnings(connector: Connector, keyring: OSKeyring | None = None) -> list[str]:
    """Warnings for referenced secrets that cannot be found now; a missing keyring is a warning too."""
    keyring = keyring or OSKeyring()
    warnings = []
    for kind, reference in connector.references().items():
        if reference is None:
            continue
        source, _, name = reference.partition(":")
        if source == "env":
            if not os.environ.get(name):
                warnings.append(f"the {kind.label} variable {name} is not set in this shell")
            continue
        try:
            present = keyring.get(name, kind) is not None
        except CredentialError as exc:
            warnings.append(f"could not check the {kind.label} {name!r}: {exc.one_line()}")
            continue
        if not present:
            warnings.append(
                f"no {kind.label} named {name!r} in the OS keyring yet: "
                f"store it with `abseg key set {name} --kind {kind.value} --stdin`"
            )
    return warnings


# --- show and checklist --------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretStatus:
    """A referenced secret as ``show`` reports it: where it would come from, masked, or why not."""

    kind: SecretKind
    reference: str | None
    origin: str | None = None
    masked: str | None = None
    problem: str | None = None

    @property
    def status(self) -> str:
        if self.masked:
            return "ok"
        return "not configured" if self.reference is None and self.problem is None else "missing"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "reference": self.reference,
            "source": self.origin,
            "value": self.masked,
            "status": self.status,
            **({"problem": self.problem} if self.problem else {}),
        }


def secret_statuses(connector: Connector, keyring: OSKeyring | None = None) -> list[SecretStatus]:
    keyring = keyring or OSKeyring()
    statuses = []
    for kind, reference in connector.references().items():
        try:
            secret = resolve_secret(kind, reference, keyring)
        except CredentialError as exc:
            not_configured = reference is None
            statuses.append(SecretStatus(kind, reference, problem=None if not_configured else exc.one_line()))
            continue
        statuses.append(SecretStatus(kind, reference, secret.origin, secret.masked))
    return statuses


def capabilities(statuses: list[SecretStatus], connector: Connector) -> dict[str, str]:
    """What verify-match can check with this connector, in words a user acts on."""
    by_kind = {s.kind: s for s in statuses}
    profile_ok = connector.profile_space and by_kind[SecretKind.PROFILE_TOKEN].status == "ok"
    decision_ok = by_kind[SecretKind.DECISION_API_KEY].status == "ok"
    return {
        "segment_lookup": (
            "Profile API lookups: verify-match asks Segment whether the visitor ID is known"
            if profile_ok
            else "only user-supplied IDs: verify-match cannot ask Segment (no usable Profile API space and token); "
            "pass --segment-user-id / --segment-anonymous-id"
        ),
        "decision": (
            "Decision API: verify-match asks FE&R which campaigns the visitor gets (trigger_hit false)"
            if decision_ok
            else "no usable Decision API key: verify-match cannot ask FE&R which campaigns the visitor gets"
        ),
    }


def show_connector(connector: Connector, keyring: OSKeyring | None = None) -> dict[str, Any]:
    statuses = secret_statuses(connector, keyring)
    return {
        "name": connector.name,
        "path": str(connector.path),
        "env_id": connector.env_id,
        "region": connector.region,
        "visitor_field": connector.visitor_field,
        "profile_space": connector.profile_space,
        "urls": {
            "segment": connector.segment_url(),
            "cdn": connector.cdn_url(),
            "profile": connector.profile_url(),
            "decision": connector.decision_url(),
        },
        "secrets": {s.kind.value: s.as_json() for s in statuses},
        "verify_match": capabilities(statuses, connector),
    }


def _clipboard_tool() -> str:
    if sys.platform == "darwin":
        return "pbcopy"
    if sys.platform.startswith("win"):
        return "clip"
    return "wl-copy"  # Wayland; on X11: xclip -selection clipboard


def checklist(connector: Connector, keyring: OSKeyring | None = None) -> list[str]:
    """The manual Integration Hub steps (AB Tasty has no API for them), filled in with this connector."""
    write_key = next(s for s in secret_statuses(connector, keyring) if s.kind is SecretKind.WRITE_KEY)
    source, _, key_name = connector.write_key.partition(":")
    shown = f"{write_key.masked}, from {write_key.origin}" if write_key.masked else "not found here yet"
    copy = (
        f"abseg key get {key_name} | {_clipboard_tool()}"
        if source == "keyring"
        else f"printf %s \"${key_name}\" | {_clipboard_tool()}"
    )
    region = connector.region.upper()
    identifier = {
        "userId": "the userId your identify calls send",
        "anonymousId": "Segment's anonymousId (analytics.user().anonymousId() in analytics.js)",
    }[connector.visitor_field]
    return [
        f"In Segment, open Connections > Sources > the source for this connector > Settings > API Keys, and "
        f"check that its write key is the one abseg holds ({connector.write_key}: {shown}). The source must "
        f"ingest in {region} ({SEGMENT_HOSTS[connector.region]}).",
        f"Copy the write key to the clipboard: `{copy}` (Linux X11: `| xclip -selection clipboard`).",
        f"In AB Tasty, select the Feature Experimentation & Rollouts environment {connector.env_id!r}, open the "
        "Integration Hub, and add the SegmentIO Connector (PUSH).",
        "Paste the write key into the connector's write key field and save. (Menu names may differ; AB Tasty "
        "has no public API for this step.)",
        f"Make your app pass {identifier} as the visitor ID to FE&R: AB Tasty forwards an event only when "
        "Segment already knows that ID.",
        f"Check it end to end: `abseg test-event --connector {connector.name} --visitor ID`, then "
        f"`abseg verify-match --connector {connector.name} --visitor ID`.",
    ]


# --- online checks -------------------------------------------------------------------------------

VALIDATE_VISITOR = "abseg-validate"


@dataclass(frozen=True)
class OnlineCheck:
    """One remote check. ``status``: ok, failed (1), missing-credential (3), unreachable (4), skipped."""

    name: str  # write_key, decision, profile
    status: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "message": self.message}


def check_online(connector: Connector, keyring: OSKeyring | None = None) -> list[OnlineCheck]:
    """Ask each service whether this connector's settings work; each check runs and reports on its own."""
    from abseg.http import HttpClient

    keyring = keyring or OSKeyring()
    checks = []
    for name, service, check in (
        ("write_key", "Segment settings CDN", _check_write_key),
        ("decision", "Decision API", _check_decision),
        ("profile", "Profile API", _check_profile),
    ):
        try:
            with HttpClient(service) as http:
                checks.append(check(connector, keyring, http))
        except CredentialError as exc:
            checks.append(OnlineCheck(name, "missing-credential", exc.one_line()))
        except ServiceError as exc:
            checks.append(OnlineCheck(name, "unreachable", exc.one_line()))
    return checks


def _check_write_key(connector: Connector, keyring: OSKeyring, http: Any) -> OnlineCheck:
    from abseg.settings_cdn import fetch_source_settings

    secret = connector.resolve_write_key(keyring)
    settings = fetch_source_settings(secret.value, connector.cdn_url(), client=http)
    which = f"({secret.masked}, from {secret.origin})"
    if not settings.exists:
        return OnlineCheck("write_key", "failed", f"Segment does not know the write key {which}")
    if settings.region and settings.region != connector.region:
        return OnlineCheck(
            "write_key",
            "failed",
            f"the write key's source ingests in {settings.region.upper()} but region is {connector.region!r}",
        )
    region = f", ingests in {settings.region.upper()}" if settings.region else ""
    return OnlineCheck("write_key", "ok", f"Segment knows the write key {which}{region}")


def _check_decision(connector: Connector, keyring: OSKeyring, http: Any) -> OnlineCheck:
    from abseg.decision import DecisionClient

    if connector.decision_api_key is None and not os.environ.get(SecretKind.DECISION_API_KEY.env_var):
        return OnlineCheck("decision", "skipped", "no decision_api_key configured")
    secret = connector.resolve_decision_api_key(keyring)
    client = DecisionClient(connector.decision_url(), connector.env_id, secret.value, http=http)
    try:
        client.campaigns(VALIDATE_VISITOR)  # always trigger_hit false: a check records no exposure
    except ServiceError as exc:
        status = _answered_status(exc)
        if status in (401, 403):
            return OnlineCheck("decision", "failed", f"the Decision API refused the key ({secret.masked}, from {secret.origin})")
        if status == 400 and exc.details.get("refused"):
            return OnlineCheck("decision", "failed", f"the Decision API does not know environment {connector.env_id!r}")
        return OnlineCheck("decision", "failed", exc.message)
    return OnlineCheck("decision", "ok", f"the Decision API accepts environment {connector.env_id!r} with this key")


def _answered_status(error: ServiceError) -> int:
    """The HTTP status a service answered with; re-raise when it never answered (unreachable, exit 4)."""
    status = error.details.get("status")
    if not isinstance(status, int):
        raise error
    return status


def _check_profile(connector: Connector, keyring: OSKeyring, http: Any) -> OnlineCheck:
    from abseg.profiles import IdType, ProfileClient

    if connector.profile_space is None:
        return OnlineCheck("profile", "skipped", "no [profile] configured: verify-match can only use IDs you supply")
    secret = connector.resolve_profile_token(keyring)
    client = ProfileClient(connector.profile_url(), connector.profile_space, secret.value, http=http)
    try:
        # Known or not, an answer about the probe visitor is what a working token gets.
        client.lookup(IdType.USER_ID, VALIDATE_VISITOR)
    except ServiceError as exc:
        status = _answered_status(exc)
        if status in (401, 403):
            return OnlineCheck("profile", "failed", f"the Profile API refused the token ({secret.masked}, from {secret.origin})")
        if status == 404:
            return OnlineCheck("profile", "failed", f"the Profile API does not know space {connector.profile_space!r} for this token")
        return OnlineCheck("profile", "failed", exc.message)
    return OnlineCheck("profile", "ok", f"the Profile API accepts the token for space {connector.profile_space!r}")
