"""A campaigns file is read and checked before the sandbox binds a port; its problems are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abseg.sandbox import Sandbox


def _variation(**overrides) -> dict:
    return {"id": "v1", "name": "On", "reference": False, "allocation": 100,
            "modifications": {"type": "FLAG", "value": {"on": True}}} | overrides


def _campaign(**overrides) -> dict:
    return {"id": "c1", "name": "C", "type": "toggle", "variationGroupId": "g1", "variations": [_variation()]} | overrides


def _write(tmp_path: Path, document) -> Path:
    path = tmp_path / "campaigns.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_a_missing_campaigns_file_is_a_value_error_that_says_so(tmp_path):
    missing = tmp_path / "nonexist.json"
    with pytest.raises(ValueError, match=f"cannot read the campaigns file {missing}: No such file or directory"):
        Sandbox(campaigns_path=missing)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not JSON"),
        ([], "an object with a 'campaigns' list"),
        ({"campaigns": {}}, "an object with a 'campaigns' list"),
        ({"campaigns": ["x"]}, "campaign 1 is not an object"),
        ({"campaigns": [_campaign(), {"id": "c2"}]}, "campaign 2 has no 'variations'"),
        ({"campaigns": [_campaign(variations=[])]}, "campaign 1 has no variations"),
        ({"campaigns": [_campaign(type="")]}, "campaign 1: 'type' must be a non-empty string, got ''"),
        ({"campaigns": [_campaign(variations=[_variation(), {"id": "v2"}])]}, "campaign 1, variation 2 has no 'allocation'"),
        ({"campaigns": [_campaign(variations=[_variation(allocation="half")])]},
         "campaign 1, variation 1: 'allocation' must be a percentage, got 'half'"),
        ({"campaigns": [_campaign(variations=[_variation(allocation=60), _variation(id="v2", allocation=60)])]},
         "campaign 1: the allocations sum to 120, more than 100"),
        ({"campaigns": [_campaign(targeting=[1])]}, "campaign 1: 'targeting' must be an object"),
        ({"campaigns": [_campaign(variations=[_variation(modifications={"type": "FLAG"})])]},
         "campaign 1, variation 1: 'modifications' needs a 'type' string and a 'value' object"),
    ],
)
def test_a_malformed_campaigns_file_names_what_is_wrong(tmp_path, document, message):
    path = _write(tmp_path, document)
    with pytest.raises(ValueError) as caught:
        Sandbox(campaigns_path=path)
    text = str(caught.value)
    assert text.startswith(f"{path}: not a valid campaigns file")
    assert message in text
    assert "KeyError" not in text and "Traceback" not in text


def test_a_valid_campaigns_file_still_loads(tmp_path):
    path = _write(tmp_path, {"campaigns": [_campaign()]})
    Sandbox(campaigns_path=path)  # no exception


def test_sandbox_command_reports_an_unreadable_campaigns_file_not_the_port(cli, tmp_path):
    missing = tmp_path / "nonexist.json"

    result = cli("sandbox", "--campaigns", str(missing))

    assert result.exit_code == 2
    assert result.stderr == f"error: cannot read the campaigns file {missing}: No such file or directory\n"
    assert result.stdout == ""


def test_sandbox_command_names_the_problem_of_a_malformed_campaigns_file(cli, tmp_path):
    path = _write(tmp_path, {"campaigns": [{"id": "c1"}]})

    result = cli("sandbox", "--campaigns", str(path))

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "campaign 1 has no 'variations'" in result.stderr
    assert "port" not in result.stderr and "listen" not in result.stderr
