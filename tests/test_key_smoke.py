def test_key_roundtrip_in_memory(cli):
    assert cli("key", "set", "prod", "--stdin", input="abcdefghijklmnopqrstuvwxyz012345\n").exit_code == 0
    listed = cli("key", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert "abcd...45" in listed.stdout
    assert cli("key", "get", "prod").stdout == "abcdefghijklmnopqrstuvwxyz012345\n"
