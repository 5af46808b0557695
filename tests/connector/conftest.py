"""Helpers for the connector tests: a connector dir to write hand-made files into."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

VALID = """\
schema = 1
name = "prod"
env_id = "c1ndrd07m0300ro0jf20"
region = "us"
visitor_field = "userId"
write_key = "keyring:prod"
"""


@pytest.fixture
def connectors(isolated) -> Path:
    directory = Path(os.environ["ABSEG_CONFIG_DIR"]) / "connectors"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def write_connector(connectors):
    """Write ``text`` (str or bytes) as connectors/NAME.toml, as a user editing by hand would."""

    def write(name: str, text: str | bytes) -> Path:
        path = connectors / f"{name}.toml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return write
