"""Verification of one visitor and of many: ask the services, apply the forwarding rule.

For each visitor: one Decision API request (``trigger_hit: false``) and Profile API lookups of the
ID in the connector's field (then in the other field only when the first is not found, which is
what tells a field mismatch from an unknown ID). Many visitors are verified concurrently by a small
thread pool over shared HTTP clients, each service paced by a client-side ``RateLimiter`` that also
paces retries, so abseg never sends more than the configured rate. Input is streamed and results are
yielded in input order from a bounded window: memory does not grow with the number of visitors.
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from abseg.errors import AbsegError, BadInput, ServiceError
from abseg.forwarding import ForwardingVerdict, SegmentSide, decide_forwarding
from abseg.visitor import check_visitor_id

if TYPE_CHECKING:
    from abseg.connector import Connector
    from abseg.decision import ContextValue, Decision, DecisionClient
    from abseg.profiles import ProfileClient, ProfileLookup

log = logging.getLogger("abseg.verification")

DEFAULT_DECISION_RATE = 200.0  # requests/s: the Decision API's documented sustained limit
DEFAULT_PROFILE_RATE = 100.0  # requests/s per space: the Profile API's documented limit
DEFAULT_WORKERS = 32
# A run stops when this many visitors in a row hit a service failure: the service is down, and
# waiting out the retries of every remaining visitor would only delay saying so.
MAX_CONSECUTIVE_FAILURES = 20


class RateLimiter:
    """At most ``rate`` calls per second across threads: each call gets the next free time slot.

    Slots are spaced evenly (no burst), so no one-second window ever holds more than ``rate`` calls
    and a server-side token bucket of that rate never runs dry.
    """

    def __init__(self, rate: float, *, clock: Any = time.monotonic, sleep: Any = time.sleep):
        # inf would make every interval 0 and nan every comparison false: both would lift the limit.
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a finite positive number, not {rate}")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


@dataclass(frozen=True)
class VisitorQuery:
    """One visitor to verify: the IDs the app gave FE&R, and what the user read from Segment."""

    visitor_id: str
    anonymous_id: str | None = None
    segment_user_id: str | None = None
    segment_anonymous_id: str | None = None
    line: int | None = None  # where it came from in a visitors file


def check_query(query: VisitorQuery) -> None:
    """BadInput (exit 2) for an ID the app cannot have sent. The ``--segment-*`` IDs are not checked:
    a quoted or ``undefined`` one is exactly the near miss the rule is there to name."""
    check_visitor_id(query.visitor_id)
    if query.anonymous_id is not None:
        check_visitor_id(query.anonymous_id, what="anonymous ID")


class Verifier:
    """Verifies visitors against one connector with shared, rate-limited clients.

    Resolving the secrets happens here, once: a missing Decision API key is ``CredentialError``
    (exit 3) before any visitor is looked at. Without ``[profile]`` in the connector, only the IDs
    the user supplies tell what Segment knows.
    """

    def __init__(
        self,
        connector: Connector,
        *,
        context: Mapping[str, ContextValue] | None = None,
        decision_rate: float = DEFAULT_DECISION_RATE,
        profile_rate: float = DEFAULT_PROFILE_RATE,
        max_connections: int = DEFAULT_WORKERS,
    ):
        from abseg.decision import DecisionClient
        from abseg.decision import SERVICE as DECISION_SERVICE
        from abseg.http import HttpClient
        from abseg.profiles import SERVICE as PROFILE_SERVICE
        from abseg.profiles import ProfileClient

        self.connector = connector
        self.context = dict(context or {})
        # Both secrets first: a missing one must fail before any connection is opened.
        api_key = connector.resolve_decision_api_key()
        space = connector.profile_space
        token = connector.resolve_profile_token() if space else None
        self._https: list[HttpClient] = []

        def http(service: str, rate: float) -> HttpClient:
            client = HttpClient(service, throttle=RateLimiter(rate).acquire, max_connections=max_connections)
            self._https.append(client)
            return client

        self.decisions: DecisionClient = DecisionClient(
            connector.decision_url(), connector.env_id, api_key.value, http=http(DECISION_SERVICE, decision_rate)
        )
        self.profiles: ProfileClient | None = None
        if space and token is not None:
            self.profiles = ProfileClient(
                connector.profile_url(), space, token.value, http=http(PROFILE_SERVICE, profile_rate)
            )
        self._source_region: str | None = None
        self._source_region_known = False
        self._region_lock = threading.Lock()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for client in self._https:
            client.close()

    def verify(self, query: VisitorQuery) -> ForwardingVerdict:
        """The verdict for one visitor; ``ServiceError`` when a service cannot answer (never a verdict)."""
        from abseg.profiles import IdType

        check_query(query)
        decision = self.decisions.campaigns(query.visitor_id, anonymous_id=query.anonymous_id, context=self.context)
        lookups: list[ProfileLookup] = []
        if self.profiles is not None:
            field_type = IdType.of_field(self.connector.visitor_field)
            for value in dict.fromkeys(v for v in (query.visitor_id, query.anonymous_id) if v is not None):
                found = self.profiles.lookup(field_type, value)
                lookups.append(found)
                if not found.found:
                    lookups.append(self.profiles.lookup(field_type.other, value))
        segment = SegmentSide(
            profile_api=self.profiles is not None,
            lookups=tuple(lookups),
            supplied_user_id=query.segment_user_id,
            supplied_anonymous_id=query.segment_anonymous_id,
        )
        verdict = self._decide(query, decision, segment)
        if any(reason.code == "unknown_to_segment" for reason in verdict.reasons):
            region = self.source_region()
            if region is not None:
                verdict = self._decide(query, decision, replace(segment, source_region=region))
        return verdict

    def _decide(self, query: VisitorQuery, decision: Decision, segment: SegmentSide) -> ForwardingVerdict:
        return decide_forwarding(
            visitor_field=self.connector.visitor_field,
            visitor_id=query.visitor_id,
            anonymous_id=query.anonymous_id,
            decision=decision,
            segment=segment,
            connector_region=self.connector.region,
        )

    def source_region(self) -> str | None:
        """Where the write key's source ingests, asked once of the settings CDN; None if it cannot tell.

        Only a hint for an ID Segment does not know (events sent to the wrong region are lost), so a
        missing write key or an unreachable CDN leaves it out rather than failing the verification.
        """
        with self._region_lock:
            if not self._source_region_known:
                self._source_region_known = True
                try:
                    from abseg.settings_cdn import fetch_source_settings

                    write_key = self.connector.resolve_write_key()
                    self._source_region = fetch_source_settings(write_key.value, self.connector.cdn_url()).region
                except AbsegError as exc:
                    log.debug("no region hint: %s", exc.one_line())
            return self._source_region


# --- many visitors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitorResult:
    """One visitor of a bulk run: a verdict, or why there is none (``invalid`` ID, service ``error``)."""

    query: VisitorQuery
    verdict: ForwardingVerdict | None = None
    error: AbsegError | None = None
    seconds: float = 0.0

    @property
    def status(self) -> str:
        if self.verdict is not None:
            return self.verdict.verdict.value
        return "invalid" if isinstance(self.error, BadInput) else "error"

    @property
    def exit_code(self) -> int:
        if self.verdict is not None:
            return self.verdict.exit_code
        return self.error.exit_code if self.error else 1

    @property
    def reason_codes(self) -> list[str]:
        if self.verdict is not None:
            return list(dict.fromkeys(reason.code for reason in self.verdict.reasons))
        return [self.status]

    def as_json(self) -> dict[str, Any]:
        if self.verdict is not None:
            return {"line": self.query.line, **self.verdict.as_json()}
        assert self.error is not None
        return {
            "line": self.query.line,
            "visitor_id": self.query.visitor_id,
            "verdict": self.status,
            "exit_code": self.exit_code,
            "error": self.error.as_json()["error"],
        }


@dataclass
class BulkSummary:
    """Counts per verdict and per reason, and the worst exit code: all a bulk run keeps in memory."""

    visitors: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    exit_code: int = 0
    started: float = field(default_factory=time.monotonic)
    aborted: AbsegError | None = None

    def add(self, result: VisitorResult) -> None:
        self.visitors += 1
        self.verdicts[result.status] += 1
        self.reasons.update(code for code in result.reason_codes if code != result.status)
        self.exit_code = max(self.exit_code, result.exit_code)

    def abort(self, error: AbsegError) -> None:
        self.aborted = error
        self.exit_code = max(self.exit_code, error.exit_code)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "visitors": self.visitors,
            "verdicts": dict(sorted(self.verdicts.items())),
            "reasons": dict(self.reasons.most_common()),
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
        }
        if self.aborted is not None:
            document["aborted"] = self.aborted.as_json()["error"]
        return document


def verify_many(
    verifier: Verifier, queries: Iterable[VisitorQuery], *, workers: int = DEFAULT_WORKERS
) -> Iterator[VisitorResult]:
    """Results in input order, at most ``2 * workers`` visitors in flight or waiting.

    An invalid ID or a service failure is that visitor's result. A refusal that concerns every
    visitor (bad key, unknown environment or space) raises ``ServiceError`` at once, as does a
    service that fails ``MAX_CONSECUTIVE_FAILURES`` visitors in a row.
    """
    window: deque[Future[VisitorResult]] = deque()
    failures_in_a_row = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="abseg-verify") as pool:
        try:
            for query in itertools.chain(queries, [None]):
                if query is not None:
                    window.append(pool.submit(_verify_one, verifier, query))
                while window and (len(window) >= 2 * workers or query is None or window[0].done()):
                    result = window.popleft().result()
                    if isinstance(result.error, ServiceError):
                        failures_in_a_row += 1
                        if result.error.details.get("refused") or failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
                            raise _stopped(result.error, failures_in_a_row)
                    elif result.verdict is not None:
                        failures_in_a_row = 0
                    yield result
        finally:
            for pending in window:
                pending.cancel()


def _verify_one(verifier: Verifier, query: VisitorQuery) -> VisitorResult:
    started = time.monotonic()
    try:
        verdict = verifier.verify(query)
    except (BadInput, ServiceError) as exc:
        return VisitorResult(query, error=exc, seconds=time.monotonic() - started)
    return VisitorResult(query, verdict=verdict, seconds=time.monotonic() - started)


def _stopped(error: ServiceError, failures_in_a_row: int) -> ServiceError:
    if error.details.get("refused"):
        return error
    return ServiceError(
        f"stopped after {failures_in_a_row} visitors in a row failed; the last: {error.message}",
        hint=error.hint,
        details=error.details,
    )


# --- visitors files ------------------------------------------------------------------------------

VISITOR_COLUMNS = {"visitorid", "visitor", "vid"}
# Optional per-row columns, by normalised header name.
ROW_FIELDS = {
    "anonymousid": "anonymous_id",
    "segmentuserid": "segment_user_id",
    "segmentanonymousid": "segment_anonymous_id",
}


def _normalised(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum())


def visitor_queries(lines: Iterable[str], *, column: str | None = None, source: str = "input") -> Iterator[VisitorQuery]:
    """Visitors from a file read line by line: one ID per line, or CSV whose header names the column.

    CSV is recognised by a comma in the first line, or a first line that is a visitor column name
    (``visitor_id``, ``visitorId``, ``visitor``, ``vid``), or ``column`` being given. CSV columns
    ``anonymous_id``, ``segment_user_id`` and ``segment_anonymous_id`` fill those IDs per visitor.
    Empty lines are skipped. Line numbers are the file's, counting from 1.
    """
    lines = _decoded(iter(lines), source)
    numbered = ((number, line.rstrip("\r\n")) for number, line in enumerate(lines, start=1))
    for number, first in numbered:  # noqa: B007  (number is read after the loop)
        if first:
            break
    else:
        return
    first = first.removeprefix("\ufeff")
    if column is None and "," not in first and _normalised(first) not in VISITOR_COLUMNS:
        yield VisitorQuery(first, line=number)
        yield from (VisitorQuery(line, line=n) for n, line in numbered if line)
        return
    yield from _csv_queries(number, first, numbered, column, source)


def _csv_queries(
    header_line: int, header: str, numbered: Iterator[tuple[int, str]], column: str | None, source: str
) -> Iterator[VisitorQuery]:
    names = next(csv.reader([header]))
    index = _visitor_column(names, column, source)
    extras = {ROW_FIELDS[_normalised(name)]: i for i, name in enumerate(names) if _normalised(name) in ROW_FIELDS}
    # csv.reader over the numbered lines: quoted fields spanning lines are rare in ID lists, and
    # reading line by line keeps the file out of memory.
    current = [header_line]

    def tracked() -> Iterator[str]:
        for n, line in numbered:
            current[0] = n
            yield line

    for row in csv.reader(tracked()):
        if not row or row == [""]:
            continue
        cells = {name: (row[i] if i < len(row) and row[i] != "" else None) for name, i in extras.items()}
        yield VisitorQuery(row[index] if index < len(row) else "", line=current[0], **cells)


def _visitor_column(names: list[str], column: str | None, source: str) -> int:
    if column is not None:
        if column not in names:
            raise BadInput(f"{source}: no column {column!r} in the header", hint=f"columns: {', '.join(names)}")
        return names.index(column)
    candidates = [i for i, name in enumerate(names) if _normalised(name) in VISITOR_COLUMNS]
    if len(candidates) == 1:
        return candidates[0]
    if len(names) == 1:
        return 0
    raise BadInput(
        f"{source}: cannot tell which column holds the visitor ID ({', '.join(names)})",
        hint="name it with --column NAME",
    )


def _decoded(lines: Iterator[str], source: str) -> Iterator[str]:
    """The lines, with a decoding error turned into BadInput (exit 2).

    Text files are decoded in blocks, so the error may come a few lines before the bad byte: the
    message says how far reading got rather than pretending to know the line.
    """
    number = 0
    try:
        for line in lines:
            number += 1
            yield line
    except UnicodeDecodeError:
        raise BadInput(
            f"{source} is not UTF-8 text (decoding failed after {number} line(s))", hint="save the file as UTF-8"
        ) from None


def count_lines(path: Path) -> int:
    """Lines in a file, read in chunks (for a progress bar's total; never the whole file at once)."""
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return count


# --- JUnit report --------------------------------------------------------------------------------


def check_report_path(path: Path) -> None:
    """``BadInput`` unless a report can be written at ``path``: checked before a run, not after it.

    The parent directory must already exist: creating it would turn a typo in a CI job's path into
    a report nobody reads, in a directory nobody expected.
    """
    parent = path.parent
    if path.is_dir():
        raise BadInput(
            f"--junit-xml {path} is a directory", hint=f"give the report's file name, e.g. {path / 'verify-match.xml'}"
        )
    if not parent.exists():
        raise BadInput(f"--junit-xml {path}: directory {parent} does not exist", hint="create it first, or fix the path")
    if not parent.is_dir():
        raise BadInput(f"--junit-xml {path}: {parent} is not a directory", hint="fix the path")
    # The report is written as a temporary file in this directory, then renamed over the path.
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"--junit-xml {path}: cannot write in {parent}", hint="choose a directory you can write to")


class JUnitReport:
    """A JUnit XML report written as results arrive, then moved into place atomically.

    Test cases go to a temporary file as they come (memory stays flat); ``finish`` writes the header,
    whose counts are only known at the end, and the cases into a second temporary file in the target
    directory and renames it over ``path``. Each visitor is a test case: ``no_forward`` and
    ``unverified`` are failures, an invalid ID or a service failure an error.
    """

    def __init__(self, path: Path, *, suite: str):
        import tempfile

        check_report_path(path)
        self.path = path
        self.suite = suite
        self.tests = self.failures = self.errors = 0
        self._cases: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")

    def add(self, result: VisitorResult) -> None:
        self.tests += 1
        query = result.query
        where = f"line {query.line}: " if query.line is not None else ""
        name = _xml_attr(f"{where}{query.visitor_id}")
        self._cases.write(f'    <testcase classname={_xml_attr(self.suite)} name={name} time="{result.seconds:.3f}">\n')
        if result.verdict is not None and result.status != "forward":
            self.failures += 1
            reasons = result.verdict.reasons
            message = reasons[0].message if reasons else result.status
            body = "\n".join(f"[{r.code}] {r.message}\nfix: {r.fix}" for r in reasons)
            self._cases.write(
                f"      <failure type={_xml_attr(result.status)} message={_xml_attr(message)}>"
                f"{_xml_text(body)}</failure>\n"
            )
        elif result.error is not None:
            self.errors += 1
            self._cases.write(
                f"      <error type={_xml_attr(result.status)} message={_xml_attr(result.error.one_line())}/>\n"
            )
        self._cases.write("    </testcase>\n")

    def add_abort(self, error: AbsegError) -> None:
        """A run that stopped early must not read as a green report: its cause is an error case."""
        self.tests += 1
        self.errors += 1
        self._cases.write(f'    <testcase classname={_xml_attr(self.suite)} name="run" time="0.000">\n')
        self._cases.write(f"      <error type={_xml_attr(error.kind)} message={_xml_attr(error.one_line())}/>\n")
        self._cases.write("    </testcase>\n")

    def finish(self, seconds: float) -> None:
        """Write the report; ``BadInput`` when the file system refuses (full disk, path gone...).

        The path was checked before the run, but the run may have lasted long enough for that to
        change, and a disk can fill up: the caller still owes the user the run's summary.
        """
        try:
            self._write(seconds)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise BadInput(f"cannot write the JUnit report {self.path}: {reason}") from None
        finally:
            self._cases.close()

    def _write(self, seconds: float) -> None:
        import tempfile

        from abseg.secrets import redact

        counts = f'tests="{self.tests}" failures="{self.failures}" errors="{self.errors}" time="{seconds:.3f}"'
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
                out.write(f"<testsuites name=\"abseg verify-match\" {counts}>\n")
                out.write(f"  <testsuite name={_xml_attr(self.suite)} {counts} skipped=\"0\">\n")
                self._cases.seek(0)
                for line in self._cases:
                    out.write(redact(line))
                out.write("  </testsuite>\n</testsuites>\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot hold most control characters, even escaped: show them as \\xNN instead."""
    return "".join(
        ch if ch in "\t\n\r" or (0x20 <= ord(ch) <= 0xD7FF) or (0xE000 <= ord(ch) <= 0xFFFD) or ord(ch) > 0xFFFF
        else f"\\x{ord(ch):02x}"
        for ch in text
    )


def _xml_attr(text: str) -> str:
    from xml.sax.saxutils import quoteattr

    return quoteattr(_xml_safe(text))


def _xml_text(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(_xml_safe(text))
