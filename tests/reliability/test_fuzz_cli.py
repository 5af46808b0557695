"""Hypothesis through the command line: visitor IDs, ``--context`` values and connector files.

Whatever a user types or leaves in a connector file, abseg ends with a documented exit code (0-4)
and, when it fails, says so in ONE ``error:`` line on stderr (``warning:`` lines may come with it),
never a traceback. Beyond that, each fuzzed input must get the outcome the rules promise: a valid
visitor ID sent by ``test-event`` is then found by ``verify-match``; an invalid one is exit 2 for
both and nothing reaches a service; a ``--context`` that parses reaches the Decision API typed.

Every URL points at a sandbox on loopback, and a guard refuses to resolve any other host.
"""

from __future__ import annotations

import json
import socket

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from abseg.errors import BadInput
from abseg.sandbox import (
    DEMO_DECISION_API_KEY,
    DEMO_ENV_ID,
    DEMO_PROFILE_TOKEN,
    DEMO_SPACE_ID,
    DEMO_WRITE_KEY,
    Sandbox,
)

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}




@pytest.fixture(scope="module")
def module_sandbox():
    with Sandbox(profile_rate_limit=0, decision_rate_limit=0, retry_after_seconds=0, slow_seconds=0.01) as sb:
        yield sb
        for request in sb.decision_requests():
            assert request["body"]["trigger_hit"] is False
        assert sb.activate_calls() == [] and sb.hit_calls() == []


@pytest.fixture
def sandbox(module_sandbox, monkeypatch):
    """The sandbox's URLs in the environment, and no host but loopback resolvable."""
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            raise socket.gaierror(f"test guard: no network outside loopback ({name!r})")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    for name, value in module_sandbox.environ().items():
        monkeypatch.setenv(name, value)
    return module_sandbox


@pytest.fixture
def connector(cli, sandbox):
    """Keys stored as a user stores them and one connector ``demo`` using them."""
    for name, kind, value in (
        ("demo", "write-key", DEMO_WRITE_KEY),
        ("demo-decision", "decision-api-key", DEMO_DECISION_API_KEY),
        ("demo-profile", "profile-token", DEMO_PROFILE_TOKEN),
    ):
        assert cli("key", "set", name, "--kind", kind, "--stdin", input=value).exit_code == 0
    created = cli(
        "connector", "create", "demo", "--env-id", DEMO_ENV_ID, "--write-key", "demo",
        "--decision-api-key", "demo-decision", "--profile-space", DEMO_SPACE_ID, "--profile-token", "demo-profile",
    )
    assert created.exit_code == 0, created.output
    return "demo"


def assert_documented(result, allowed=frozenset(range(5)), *, report_on_stdout: bool = False) -> None:
    """A documented exit code; on failure one ``error:`` line (plus warnings), never a traceback.

    A check that ran (a verdict, ``connector validate``'s report) may instead say why on stdout,
    with no ``error:`` line; an unreadable file is then one ``unreadable:`` line.
    """
    assert result.exit_code in allowed, result.output
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    if result.exit_code == 0:
        assert errors == [], result.stderr
        return
    assert all(line.startswith(("error:", "warning:")) for line in lines), result.stderr
    if len(errors) == 1:
        return
    assert errors == [], result.stderr
    reported = result.exit_code == 1 or (report_on_stdout and result.exit_code == 2)
    assert reported and result.stdout.strip(), f"exit {result.exit_code} without an error line: {result.output}"
    if result.exit_code == 2 and not result.stdout.lstrip().startswith("{"):
        assert result.stdout.count("\n") == 1 and result.stdout.startswith("unreadable: "), result.stdout


def visitor_is_valid(value: str) -> bool:
    from abseg.visitor import check_visitor_id

    try:
        check_visitor_id(value)
    except BadInput:
        return False
    return True


# --- visitor IDs ---------------------------------------------------------------------------------

SPECIAL_IDS = [
    "undefined", "null", "NULL", "None", "NaN", "[object Object]", " v1", "v1 ", "\tv1", "v1\n", "a\x00b",
    "a\x7fb", "\u200bv1", "v1\u00a0", "caf\u00e9", "cafe\u0301", "\U0001f600", "a/b", "../..", ".", "..",
    "a+b", "a%2Fb", "a?b#c", "a b", "'v1'", '"v1"', "user_id:v1", "-v1", "--help", "x" * 1000, "x" * 1001,
    "\u00e9" * 1000,
]

visitor_ids = st.one_of(
    st.sampled_from(SPECIAL_IDS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12),
    st.builds(lambda ch, n: ch * n, st.characters(codec="utf-8"), st.integers(995, 1005)),
)


@settings(FUZZ, max_examples=45)
@given(visitor=visitor_ids, as_json=st.booleans())
@example(visitor="a+b", as_json=False)
@example(visitor="a/b", as_json=True)
def test_fuzzed_visitor_ids_round_trip_or_are_refused_in_one_line(cli, sandbox, connector, visitor, as_json):
    form = ("--json",) if as_json else ()
    valid = visitor_is_valid(visitor)
    before = len(sandbox.events()), len(sandbox.decision_requests())

    dry = cli("test-event", "--visitor", visitor, "--dry-run", *form)
    sent = cli("test-event", "--visitor", visitor, *form)
    verified = cli("verify-match", "--visitor", visitor, *form)

    for result in (dry, sent, verified):
        assert_documented(result)
        if as_json:
            json.loads(result.stdout)  # one JSON document, even for an error
    if not valid:
        assert (dry.exit_code, sent.exit_code, verified.exit_code) == (2, 2, 2), (dry.output, sent.output, verified.output)
        assert (len(sandbox.events()), len(sandbox.decision_requests())) == before  # nothing reached a service
        return
    # A valid ID goes to Segment byte for byte, and verify-match then finds exactly that ID there.
    assert (dry.exit_code, sent.exit_code) == (0, 0), (dry.output, sent.output)
    identify = [e for e in sandbox.events()[before[0]:] if e["type"] == "identify"]
    assert [(e["userId"], e["status"]) for e in identify] == [(visitor, "accepted")]
    assert verified.exit_code == 0, verified.output
    assert sandbox.decision_requests()[-1]["body"]["visitor_id"] == visitor


def test_a_visitor_id_made_of_bytes_that_are_not_utf8_is_bad_input(cli, sandbox, connector):
    """``abseg test-event --visitor $'v\\xff'`` in a Latin-1 terminal: Python hands abseg a lone
    surrogate ('v\\udcff'). No app can have sent that ID (it is not Unicode text); sending it on
    puts a garbage userId into Segment, and verify-match cannot ask about it. Exit 2, like a control
    character, before anything is sent."""
    visitor = b"v\xff".decode("utf-8", "surrogateescape")
    before = len(sandbox.events()), len(sandbox.decision_requests())

    sent = cli("test-event", "--visitor", visitor)
    verified = cli("verify-match", "--visitor", visitor)

    for result in (sent, verified):
        assert_documented(result)
    assert (sent.exit_code, verified.exit_code) == (2, 2), (sent.output, verified.output)
    assert (len(sandbox.events()), len(sandbox.decision_requests())) == before


# --- --context -----------------------------------------------------------------------------------

SPECIAL_CONTEXTS = [
    "isVIP=true", "isVIP=TRUE", "age=42", "age=007", "n=-0", "n=1e400", "n=1.5e3", "n=" + "9" * 400, "n=0x10",
    "q='7'", 'q="true"', "q=''", "k=", "=v", " k=v", "k =v", "k", "k==v", "k=v=w", "k=\u00e9\U0001f600",
    "\u00e9=1", "k=a\nb", "k\t=1", "k=\x00", "trigger_hit=true", "visitor_id=x", "k=NaN", "k=Infinity",
]

context_pairs = st.lists(
    st.one_of(
        st.sampled_from(SPECIAL_CONTEXTS),
        st.builds(lambda k, v: f"{k}={v}", st.text(max_size=8), st.text(max_size=12)),
        st.text(max_size=15),
    ),
    max_size=4,
)


@pytest.fixture
def known_visitor(cli, connector):
    assert cli("test-event", "--visitor", "ctx-visitor").exit_code == 0
    return "ctx-visitor"


@settings(FUZZ, max_examples=60)
@given(pairs=context_pairs, as_json=st.booleans())
@example(pairs=["n=1e400"], as_json=True)
@example(pairs=["k=a\nb"], as_json=False)
def test_fuzzed_context_values_are_sent_typed_or_refused_in_one_line(cli, sandbox, known_visitor, pairs, as_json):
    from abseg.decision import parse_context

    try:
        expected = parse_context(pairs)
    except BadInput:
        expected = None
    args = [arg for pair in pairs for arg in ("--context", pair)]
    count = len(sandbox.decision_requests())

    result = cli("verify-match", "--visitor", known_visitor, *args, *(("--json",) if as_json else ()))

    assert_documented(result)
    if as_json:
        json.loads(result.stdout)
    if expected is None:
        assert result.exit_code == 2 and "--context" in result.stderr, result.output
        assert len(sandbox.decision_requests()) == count
        return
    # A context abseg accepts, the Decision API accepts too: the verdict stands (every visitor gets a campaign).
    assert result.exit_code == 0, result.output
    sent = sandbox.decision_requests()[-1]["body"]
    assert sent.get("context", {}) == expected
    assert json.dumps(sent.get("context", {}), sort_keys=True) == json.dumps(expected, sort_keys=True)  # types kept


# --- connector files -----------------------------------------------------------------------------

VALID_FILE = (
    'schema = 1\nname = "fz"\nenv_id = "sandbox-env"\nregion = "us"\nvisitor_field = "userId"\n'
    'write_key = "keyring:demo"\ndecision_api_key = "keyring:demo-decision"\n\n'
    '[profile]\nspace_id = "spa_sandbox"\ntoken = "keyring:demo-profile"\n'
)
KEYS = ["schema", "name", "env_id", "region", "visitor_field", "write_key", "decision_api_key", "extra", "Name"]
SECTIONS = ["[profile]", "[urls]", "[profile.x]", "[[profile]]", "[]", "[urls"]
SECTION_KEYS = ["space_id", "token", "segment", "cdn", "profile", "decision", "other"]
VALUES = [
    '"fz"', '"sandbox-env"', '"us"', '"eu"', '"EU"', '"userId"', '"anonymousId"', '"keyring:demo"',
    '"keyring:demo-decision"', '"keyring:demo-profile"', '"env:ABSEG_WRITE_KEY"', '"keyring:"', '"env:1X"',
    '"spa_sandbox"', '"http://127.0.0.1:1/x"', '"https://api.segment.io"', '"https://events.eu1.segmentapis.com"',
    '"ftp://x"', '"http://"', "1", "2", "0", "-1", "true", "1.5", "[]", '["a"]', "{}", '{a = 1}', '""', '"\\u0000"',
    '"""multi\nline"""', "'lit'", "1979-05-27", "inf", "nan", "9" * 30,
]


def toml_ish() -> st.SearchStrategy[str]:
    value = st.one_of(st.sampled_from(VALUES), st.text(max_size=10).map(json.dumps), st.text(max_size=6))
    line = st.one_of(
        st.builds(lambda k, v: f"{k} = {v}", st.sampled_from(KEYS), value),
        st.builds(lambda k, v: f"{k} = {v}", st.sampled_from(SECTION_KEYS), value),
        st.sampled_from(SECTIONS),
        st.text(max_size=12),
    )
    return st.lists(line, max_size=12).map("\n".join)


def mutated_valid() -> st.SearchStrategy[bytes]:
    lines = VALID_FILE.encode().split(b"\n")

    def mutate(index: int, kind: int, junk: bytes) -> bytes:
        copy = list(lines)
        i = index % len(copy)
        if kind == 0:
            del copy[i]
        elif kind == 1:
            copy[i] = junk
        elif kind == 2:
            copy.insert(i, copy[i])
        else:
            copy[i] = copy[i][: len(junk)] + junk
        return b"\n".join(copy)

    return st.builds(mutate, st.integers(0, 50), st.integers(0, 3), st.binary(max_size=8))


connector_files = st.one_of(
    st.binary(max_size=200),
    toml_ish().map(lambda text: text.encode("utf-8", "surrogatepass")),
    mutated_valid(),
    st.sampled_from([b"", b"\xef\xbb\xbf" + VALID_FILE.encode(), VALID_FILE.encode(), b"\x00", b"x" * 1_100_000]),
)


@settings(FUZZ, max_examples=60)
@given(content=connector_files)
@example(content=VALID_FILE.encode())
@example(content=VALID_FILE.replace('"us"', '"eu"').encode())
@example(content=VALID_FILE.encode() + b'\n[urls]\ndecision = "https://decision.example.com"\n')
def test_fuzzed_connector_files_give_a_documented_outcome_in_one_line(cli, sandbox, connector, isolated, content):
    path = isolated / "connectors" / "fz.toml"
    path.write_bytes(content)

    validated = cli("connector", "validate", "fz")
    validated_json = cli("connector", "validate", "fz", "--json")
    shown = cli("connector", "show", "fz")
    listed = cli("connector", "list", "--json")
    dry = cli("test-event", "--connector", "fz", "--visitor", "v1", "--dry-run")
    verified = cli("verify-match", "--connector", "fz", "--visitor", "v1", "--json")

    assert_documented(validated, {0, 1, 2}, report_on_stdout=True)
    assert_documented(validated_json, {validated.exit_code}, report_on_stdout=True)
    report = json.loads(validated_json.stdout)
    assert listed.exit_code == 0 and "fz" in {c["name"] for c in json.loads(listed.stdout)["connectors"]} | {
        c["path"].rsplit("/", 1)[-1].removesuffix(".toml") for c in json.loads(listed.stdout)["connectors"]
    }
    for result in (shown, dry, verified):
        assert_documented(result)
    json.loads(verified.stdout)
    if validated.exit_code == 0:
        assert report["valid"] is True
        assert shown.exit_code == 0 and dry.exit_code in (0, 3), dry.output
        assert verified.exit_code in (0, 1, 3, 4), verified.output
    else:
        # An invalid file (1) or an unreadable one (2) stops every command that needs it, with that code.
        assert report["valid"] is False
        for result in (shown, dry, verified):
            assert result.exit_code == validated.exit_code, (validated.output, result.output)
