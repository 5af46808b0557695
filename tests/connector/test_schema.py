"""The published JSON Schema is the model's, and the documented examples are valid connectors."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from abseg.connector import SCHEMA_FILE, json_schema

DOCS = Path(__file__).parents[2] / "docs" / "connectors.md"


def examples() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)


def test_shipped_schema_file_is_current():
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema(), (
        "regenerate it: abseg connector schema > src/abseg/connector.schema.json"
    )


def test_documented_examples_validate(cli, write_connector):
    found = examples()
    assert len(found) == 3
    for text in found:
        name = tomllib.loads(text)["name"]
        write_connector(name, text)
        result = cli("connector", "validate", name)
        assert result.exit_code == 0, (name, result.output)


def test_editors_validating_with_the_schema_accept_the_examples_and_catch_mistakes():
    """What an editor does with the shipped schema: a real JSON Schema validator, not our model."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    for text in examples():
        assert list(validator.iter_errors(tomllib.loads(text))) == []
    smallest = tomllib.loads(examples()[0])
    for broken in (
        {**smallest, "region": "asia"},
        {**smallest, "colour": "blue"},
        {key: value for key, value in smallest.items() if key != "env_id"},
        {**smallest, "schema": "1"},
    ):
        assert list(validator.iter_errors(broken)), broken
