"""Two ways a connector command could hurt a user: deleting a file that is not a connector, and
writing a secret into a connector file through `env:` (`--write-key env:$SEGMENT_WRITE_KEY`)."""

from __future__ import annotations

KEY = "Zx8kQ2mN5pR7tV9wY1bD3fH6jL4nP0sU"


def test_delete_takes_a_name_never_a_path(cli, tmp_path):
    precious = tmp_path / "pyproject.toml"
    precious.write_text("[tool]\nx = 1\n")
    for target in (str(precious), str(tmp_path / "notes.txt")):
        result = cli("connector", "delete", target)
        assert result.exit_code == 2
        assert "takes a connector name, not a path" in result.stderr
    assert precious.read_text() == "[tool]\nx = 1\n"


def test_a_key_expanded_into_env_reference_is_refused_and_never_echoed(cli, isolated):
    result = cli("connector", "create", "leak", "--env-id", "e1", "--write-key", f"env:{KEY}")
    assert result.exit_code == 2
    assert "looks like a secret value" in result.stderr
    assert KEY not in result.output
    assert not (isolated / "connectors" / "leak.toml").exists()


def test_validate_flags_a_secret_in_an_env_reference_without_echoing_it(cli, isolated):
    folder = isolated / "connectors"
    folder.mkdir(parents=True)
    (folder / "old.toml").write_text(
        f'schema = 1\nname = "old"\nenv_id = "e1"\nregion = "us"\nvisitor_field = "userId"\nwrite_key = "env:{KEY}"\n'
    )
    result = cli("connector", "validate", "old")
    assert result.exit_code == 1
    assert "looks like a secret value" in result.output and KEY not in result.output
