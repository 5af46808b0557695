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


def test_schema_agrees_with_the_validator_on_the_examples():
    """Without a JSON Schema library in the test deps, check what the schema states against the examples."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    for text in examples():
        document = tomllib.loads(text)
        assert set(schema["required"]) <= set(document)
        assert set(document) <= set(schema["properties"])
        for key, value in document.items():
            spec = schema["properties"][key]
            if "pattern" in spec:
                assert re.match(spec["pattern"], value), (key, value)
            if "enum" in spec:
                assert value in spec["enum"]
            if "$ref" in spec:
                section = schema["$defs"][spec["$ref"].rsplit("/", 1)[1]]
                assert set(value) <= set(section["properties"])
                for sub_key, sub_value in value.items():
                    assert re.match(section["properties"][sub_key]["pattern"], sub_value)
