"""Bad files never break the tool: one line naming the file and the problem, exit 2, no traceback."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.connector.conftest import VALID

BAD_FILES = {
    "empty": (b"", "is empty"),
    "blank": (b"\n  \n", "is empty"),
    "truncated": (VALID.encode()[:60], "is not valid TOML"),
    "binary": (bytes(range(256)), "is binary"),
    "latin-1": ('name = "caf\xe9"'.encode("latin-1"), "is not UTF-8 text"),
    "bom": (b"\xef\xbb\xbf" + VALID.encode(), "starts with a byte-order mark (BOM); save it as UTF-8 without BOM"),
    "newer schema": (VALID.replace("schema = 1", "schema = 2").encode(), "has schema version 2; this abseg reads version 1; upgrade abseg"),
    "huge": (VALID.encode() + b"#" * 1_000_001, "is over 1 MB; a connector file is a few hundred bytes, so it is refused"),
}


@pytest.mark.parametrize("case", BAD_FILES)
@pytest.mark.parametrize("command", ["validate", "show", "checklist"])
def test_bad_file_gives_one_line_exit_2(cli, write_connector, case, command):
    content, problem = BAD_FILES[case]
    path = write_connector("prod", content)
    result = cli("connector", command, "prod")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    message = result.stdout if command == "validate" else result.stderr
    assert message.count("\n") == 1
    assert str(path) in message and problem in message


def test_list_names_the_bad_files_and_still_lists_the_good(cli, write_connector):
    write_connector("prod", VALID)
    for case, (content, _) in BAD_FILES.items():
        write_connector(case.replace(" ", "-"), content)
    write_connector("invalid", VALID.replace('"prod"', '"invalid"').replace("c1ndrd07m0300ro0jf20", ""))
    result = cli("connector", "list")
    assert result.exit_code == 0
    rows = {line.split()[0]: line.split()[-1] for line in result.stdout.splitlines()[1:]}
    assert rows["prod"] == "ok" and rows["invalid"] == "invalid"
    assert all(rows[case.replace(" ", "-")] == "unreadable" for case in BAD_FILES)
    assert "invalid.toml: 1 problem, first env_id (line 3): is empty" in result.stderr
    assert "bom.toml: starts with a byte-order mark" in result.stderr


def test_a_directory_named_like_a_connector_is_named(cli, connectors):
    (connectors / "odd.toml").mkdir()
    result = cli("connector", "show", "odd")
    assert result.exit_code == 2
    assert "odd.toml: is a directory" in result.stderr


# --- generated files -------------------------------------------------------------------------------

FIELDS = ["schema", "name", "env_id", "region", "visitor_field", "write_key", "decision_api_key", "profile", "urls"]
toml_scalars = st.one_of(
    st.integers(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.just("keyring:"), st.just("env:1X"), st.dates(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(FIELDS + ["space_id", "token", "segment", "x"]), children, max_size=3),
    ),
    max_leaves=6,
)


def run_on(cli, write_connector, content: str | bytes):
    write_connector("prod", content)
    result = cli("connector", "validate", "prod")
    assert "Traceback" not in result.output
    return result


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(FIELDS + ["extra"]), toml_values, max_size=9))
def test_wrong_typed_values_are_exit_1_or_2_never_a_traceback(cli, write_connector, document):
    import tomli_w

    result = run_on(cli, write_connector, tomli_w.dumps(document))
    if result.exit_code == 0:
        return  # hypothesis found a valid connector; nothing to complain about
    assert result.exit_code in (1, 2), result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(("invalid: ", "unreadable: "))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=string.printable + "\ufeff\x00é[]{}=\"'", max_size=300),
        # a valid file cut or damaged at a random place
        st.integers(0, len(VALID)).map(lambda n: VALID[:n]),
        st.tuples(st.integers(0, len(VALID)), st.text(max_size=5)).map(lambda t: VALID[: t[0]] + t[1] + VALID[t[0] :]),
    )
)
def test_malformed_files_are_exit_1_or_2_with_one_line(cli, write_connector, content):
    result = run_on(cli, write_connector, content)
    if result.exit_code == 0:
        return
    assert result.exit_code in (1, 2), result.output
    if result.exit_code == 2:
        assert result.stdout.count("\n") == 1 and result.stdout.startswith("unreadable: ")
