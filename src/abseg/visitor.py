"""Visitor IDs as the user types them: refuse the ones that cannot be what an app sent."""

from __future__ import annotations

from abseg.errors import BadInput

MAX_VISITOR_ID_LENGTH = 1000
PLACEHOLDER_IDS = {"undefined", "null", "none", "nil", "nan", "[object object]"}


def check_visitor_id(value: str, *, what: str = "visitor ID") -> str:
    """Return ``value`` unchanged if it can be a real visitor ID; else ``BadInput`` (exit 2).

    These are mistakes in the input itself (a shell variable that was empty, an ID read before
    analytics loaded), so they are usage errors, not failed checks.
    """
    if not value:
        raise BadInput(f"the {what} is empty", hint="pass the ID your app gave the Decision API")
    if value != value.strip():
        raise BadInput(
            f"the {what} {value!r} has whitespace around it",
            hint="an ID with spaces around it is a different ID to Segment: pass it trimmed",
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise BadInput(f"the {what} contains control characters", hint="pass the ID as plain text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Python hands over bytes that were not UTF-8 as lone surrogates: no service can store them.
        raise BadInput(f"the {what} is not valid UTF-8 text", hint="pass the ID as your app sends it, in UTF-8") from None
    if value.lower() in PLACEHOLDER_IDS:
        raise BadInput(
            f"the {what} is the placeholder {value!r}",
            hint="the app read the ID before analytics had loaded it; read it after analytics.ready()",
        )
    if len(value) > MAX_VISITOR_ID_LENGTH:
        raise BadInput(f"the {what} is {len(value)} characters long (at most {MAX_VISITOR_ID_LENGTH})")
    return value
