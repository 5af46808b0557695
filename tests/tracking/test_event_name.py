"""``abseg test-event --event``: a blank event name is refused before anything is sent."""

from __future__ import annotations

import pytest

from abseg.errors import BadInput
from abseg.sandbox import DEMO_WRITE_KEY
from abseg.tracking import check_event_name, send_test_events


@pytest.mark.parametrize("event", ["", " ", "\t\n"])
def test_an_empty_event_name_exits_2_before_anything_is_sent(cli, closed_url, event):
    env = {"ABSEG_SEGMENT_URL": closed_url, "ABSEG_SEGMENT_CDN_URL": closed_url, "ABSEG_WRITE_KEY": DEMO_WRITE_KEY}

    for mode in ([], ["--dry-run"]):
        result = cli("test-event", "--visitor", "v1", "--event", event, *mode, env=env)

        assert result.exit_code == 2, result.output  # 4 would mean something tried the network
        assert result.stderr.startswith("error: the event name is ") and result.stderr.count("\n") == 1
        assert "--event" in result.stderr and "abseg Test Event" in result.stderr
        assert result.stdout == ""


def test_send_test_events_refuses_an_empty_event_name_before_using_the_target():
    for name in ("", "  "):
        with pytest.raises(BadInput, match="the event name is "):
            check_event_name(name)
    check_event_name("Checkout Probe")
    with pytest.raises(BadInput, match="the event name is "):
        send_test_events(None, "v1", event_name=" ", dry_run=True)  # type: ignore[arg-type]
