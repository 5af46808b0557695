"""`abseg connector validate`: every problem at once, with field and line; exit 0, 1 or 2."""

from __future__ import annotations

import json

from tests.connector.conftest import VALID

PASTED_KEY = "Zx81qPcAa9LmN3bVv7TtR2sKd4FgH6jW"


def problems_of(result) -> dict[str, dict]:
    (connector,) = json.loads(result.stdout)["connectors"]
    return {p["field"]: p for p in connector["problems"]}


def test_valid_file_exits_0(cli, write_connector):
    write_connector("prod", VALID)
    result = cli("connector", "validate", "prod", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "valid": True,
        "connectors": [{"path": str(write_connector("prod", VALID)), "name": "prod", "valid": True, "problems": []}],
    }


def test_every_problem_is_reported_with_field_and_line(cli, write_connector):
    write_connector(
        "prod",
        f"""\
schema = 1
name = "prod"
env_id = ""
region = "us"
visitor_field = 3
write_key = "{PASTED_KEY}"
colour = "blue"

[profile]
space_id = "workspace-1"

[urls]
segment = "https://events.eu1.segmentapis.com"
""",
    )
    result = cli("connector", "validate", "prod", "--json")
    assert result.exit_code == 1
    problems = problems_of(result)
    assert set(problems) == {"env_id", "visitor_field", "write_key", "colour", "profile.space_id", "profile.token", "urls.segment"}
    assert problems["env_id"]["line"] == 3 and "empty" in problems["env_id"]["message"]
    assert problems["visitor_field"]["line"] == 5
    assert problems["colour"]["line"] == 7 and "unknown key" in problems["colour"]["message"]
    assert problems["profile.space_id"]["line"] == 10 and "spa_" in problems["profile.space_id"]["message"]
    assert problems["profile.token"] == {"field": "profile.token", "line": 9, "message": "missing"}
    assert "EU host" in problems["urls.segment"]["message"] and problems["urls.segment"]["line"] == 13


def test_a_pasted_secret_is_named_but_never_echoed(cli, write_connector):
    write_connector("prod", VALID.replace('"keyring:prod"', f'"{PASTED_KEY}"') + f'decision_api_key = "keyring:{PASTED_KEY[:24]}"\n')
    for args in (("--json",), ()):
        result = cli("connector", "validate", "prod", *args)
        assert result.exit_code == 1
        assert "looks like a secret value, not a reference" in result.output
        assert PASTED_KEY[:20] not in result.output
    assert set(problems_of(cli("connector", "validate", "prod", "--json"))) == {"write_key", "decision_api_key"}


def test_human_output_lists_each_problem_on_its_own_line(cli, write_connector):
    write_connector("prod", VALID.replace('region = "us"', 'region = "US"').replace('env_id = "c1ndrd07m0300ro0jf20"', "env_id = 42"))
    result = cli("connector", "validate", "prod")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("invalid: prod (") and lines[0].endswith("2 problems")
    assert lines[1] == "  env_id (line 3): should be a valid string"
    assert lines[2] == "  region (line 4): should be 'us' or 'eu'"


def test_name_must_match_the_file_and_be_unique(cli, write_connector):
    write_connector("prod", VALID)
    write_connector("staging", VALID)
    result = cli("connector", "validate", "--json")
    assert result.exit_code == 1
    reports = {c["path"].rsplit("/", 1)[1]: c for c in json.loads(result.stdout)["connectors"]}
    assert reports["prod.toml"]["problems"] == [
        {"field": "name", "line": None, "message": f"'prod' is also declared by {reports['staging.toml']['path']}"}
    ]
    messages = [p["message"] for p in reports["staging.toml"]["problems"]]
    assert "is 'prod' but the file is staging.toml: rename one to match" in messages
    assert any("also declared by" in m for m in messages)


def test_paths_and_names_mix_and_a_missing_one_is_exit_2(cli, write_connector, tmp_path):
    write_connector("prod", VALID)
    elsewhere = tmp_path / "prod.toml"
    elsewhere.write_text(VALID)
    assert cli("connector", "validate", str(elsewhere)).exit_code == 0
    missing = cli("connector", "validate", "prod", "nope")
    assert missing.exit_code == 2
    assert "nope.toml: no such connector file" in missing.stdout


def test_unreadable_wins_over_invalid(cli, write_connector):
    write_connector("broken", "name = ")
    write_connector("wrong", VALID.replace('"prod"', '"wrong"').replace('"us"', '"mars"'))
    result = cli("connector", "validate")
    assert result.exit_code == 2
    assert "broken.toml: is not valid TOML" in result.stdout
    assert "invalid: wrong" in result.stdout


def test_no_connectors_at_all_is_exit_2(cli, isolated):
    result = cli("connector", "validate")
    assert result.exit_code == 2
    assert "no connector to validate" in result.stderr


def test_region_may_disagree_with_no_url_but_a_custom_host_is_fine(cli, write_connector):
    write_connector("prod", VALID + '[urls]\nsegment = "https://segment-proxy.example.com"\nprofile = "https://profiles.segment.com"\n')
    assert cli("connector", "validate", "prod").exit_code == 0
    write_connector("prod", VALID.replace('"us"', '"eu"') + '[urls]\nprofile = "https://profiles.segment.com/"\n')
    result = cli("connector", "validate", "prod")
    assert result.exit_code == 1
    assert "urls.profile (line 8): points at the US host profiles.segment.com but region is 'eu'" in result.stdout
