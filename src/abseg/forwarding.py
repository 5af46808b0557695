"""AB Tasty's forwarding rule, as a pure function: would the SegmentIO PUSH connector forward?

AB Tasty forwards a visitor's campaign events to Segment only if the visitor ID it got is already
known to Segment, in the field the connector puts it in (``userId`` or ``anonymousId``). When it is
not, nothing is forwarded and nothing reports an error anywhere. ``decide_forwarding`` takes what
abseg could learn (the Decision API's answer, Profile API lookups, the IDs a user read from
``analytics.user()``) and returns a ``ForwardingVerdict``: ``forward``, ``no_forward``, or
``unverified`` when nothing could tell, with a reason and a fix for every problem found.

No I/O here: service failures never reach this function (the clients raise), so a verdict is only
ever made from answers, and a failed service can never come out as ``forward``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from abseg.decision import Decision
from abseg.profiles import IdType, ProfileLookup
from abseg.visitor import PLACEHOLDER_IDS

SIMULATION_NOTE = (
    "simulation: AB Tasty does not document the payload its SegmentIO connector sends; these use "
    "Segment's 'Experiment Viewed' convention, one per assigned campaign"
)
CONTINUITY_NOTE = (
    "an anonymous ID is in play (experience continuity): which of the visitor ID and the anonymous "
    "ID AB Tasty forwards to Segment is undocumented, so both were checked"
)


class Verdict(str, Enum):
    FORWARD = "forward"
    NO_FORWARD = "no_forward"
    UNVERIFIED = "unverified"

    @property
    def exit_code(self) -> int:
        return 0 if self is Verdict.FORWARD else 1


@dataclass(frozen=True)
class Reason:
    """Why AB Tasty would not (or might not) forward: a stable ``code``, what, and how to fix it."""

    code: str
    message: str
    fix: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class SegmentSide:
    """What is known of Segment's side of one visitor.

    ``lookups``: the Profile API's answers (empty when it was not asked). ``supplied_*``: what the
    user read from ``analytics.user().userId()`` / ``.anonymousId()``, exactly as given.
    ``source_region``: where the write key ingests (settings CDN), when known.
    """

    profile_api: bool = False
    lookups: tuple[ProfileLookup, ...] = ()
    supplied_user_id: str | None = None
    supplied_anonymous_id: str | None = None
    source_region: str | None = None

    def lookup(self, id_type: IdType, value: str) -> ProfileLookup | None:
        for lookup in self.lookups:
            if lookup.id_type is id_type and lookup.value == value:
                return lookup
        return None

    def supplied(self, id_type: IdType) -> str | None:
        return self.supplied_user_id if id_type is IdType.USER_ID else self.supplied_anonymous_id

    def as_json(self) -> dict[str, Any]:
        return {
            "profile_api": self.profile_api,
            "lookups": [lookup.as_json() for lookup in self.lookups],
            "supplied_user_id": self.supplied_user_id,
            "supplied_anonymous_id": self.supplied_anonymous_id,
            "source_region": self.source_region,
        }


@dataclass(frozen=True)
class ForwardingVerdict:
    visitor_id: str
    anonymous_id: str | None
    visitor_field: str
    verdict: Verdict
    reasons: tuple[Reason, ...]
    warnings: tuple[str, ...]
    evidence: tuple[str, ...]  # what was established, in words: the "why" of a forward verdict
    decision: Decision
    segment: SegmentSide
    simulated_events: tuple[dict[str, Any], ...]

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def as_json(self) -> dict[str, Any]:
        return {
            "visitor_id": self.visitor_id,
            "anonymous_id": self.anonymous_id,
            "visitor_field": self.visitor_field,
            "verdict": self.verdict.value,
            "exit_code": self.exit_code,
            "reasons": [reason.as_json() for reason in self.reasons],
            "warnings": list(self.warnings),
            "evidence": list(self.evidence),
            "decision": self.decision.as_json(),
            "segment": self.segment.as_json(),
            "simulated_events": {"note": SIMULATION_NOTE, "events": list(self.simulated_events)},
        }


# --- near misses ---------------------------------------------------------------------------------

NEAR_MISS_WORDS = {
    "whitespace": "whitespace around it",
    "quotes": "quotes around it",
    "unicode_normalisation": "Unicode normalisation (the same accented letters encoded as NFC vs NFD)",
    "case": "letter case",
}
_QUOTE_CHARS = "\"'`\u2018\u2019\u201c\u201d"


def _peeled(value: str) -> tuple[str, bool, bool]:
    """``value`` without surrounding whitespace and quotes; and whether each was there."""
    had_space = had_quotes = False
    while True:
        stripped = value.strip()
        if stripped != value:
            value, had_space = stripped, True
        elif len(value) >= 2 and value[0] in _QUOTE_CHARS and value[-1] in _QUOTE_CHARS:
            value, had_quotes = value[1:-1], True
        else:
            return value, had_space, had_quotes


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def near_miss(expected: str, supplied: str) -> tuple[str, ...]:
    """How ``supplied`` differs from ``expected`` when a person would call them the same ID.

    Returns the kinds of difference (keys of ``NEAR_MISS_WORDS``), or ``()`` when the two are equal
    or unrelated. To Segment and AB Tasty, any difference at all makes them different visitors.
    """
    if expected == supplied:
        return ()
    left, left_space, left_quotes = _peeled(expected)
    right, right_space, right_quotes = _peeled(supplied)
    kinds = [kind for kind, present in (("whitespace", left_space or right_space), ("quotes", left_quotes or right_quotes)) if present]
    if left == right:
        pass
    elif _nfc(left) == _nfc(right):
        kinds.append("unicode_normalisation")
    elif left.casefold() == right.casefold():
        kinds.append("case")
    elif _nfc(_nfc(left).casefold()) == _nfc(_nfc(right).casefold()):
        kinds += ["unicode_normalisation", "case"]
    else:
        return ()
    return tuple(kinds)


def is_placeholder(value: str) -> bool:
    """``undefined``, ``null``... or nothing: what ``analytics.user()`` gives before it has loaded."""
    return _peeled(value)[0].lower() in PLACEHOLDER_IDS | {""}


# --- the rule ------------------------------------------------------------------------------------


class _Standing(Enum):
    KNOWN = "known"  # Segment knows the ID in the connector's field
    NOT_KNOWN = "not_known"  # it definitely does not (or the browser's Segment has another ID)
    UNKNOWABLE = "unknowable"  # nothing was asked and nothing was supplied


@dataclass
class _Findings:
    reasons: list[Reason] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def decide_forwarding(
    *,
    visitor_field: str,
    visitor_id: str,
    decision: Decision,
    segment: SegmentSide,
    anonymous_id: str | None = None,
    connector_region: str | None = None,
) -> ForwardingVerdict:
    """The verdict for one visitor. ``visitor_field`` is the connector's: ``userId`` or ``anonymousId``."""
    id_field = IdType.of_field(visitor_field)
    findings = _Findings()
    _judge_decision(decision, visitor_id, findings)

    candidates = [("visitor ID", visitor_id)]
    if anonymous_id is not None and anonymous_id != visitor_id:
        candidates.append(("anonymous ID", anonymous_id))
        findings.warnings.append(CONTINUITY_NOTE)
    standings = [_judge_identity(role, value, id_field, segment, findings) for role, value in candidates]
    identity = _combined(standings)
    if identity is _Standing.UNKNOWABLE and len(set(standings)) == 1:
        findings.reasons.append(_not_asked(id_field))
    elif identity is _Standing.UNKNOWABLE:
        findings.reasons.append(_continuity_reason(candidates, standings, id_field))
    _judge_region(connector_region, segment.source_region, identity, findings)

    if identity is _Standing.KNOWN and not segment.profile_api:
        findings.warnings.append(
            "Segment itself was not asked (no Profile API configured): this rests on the IDs you supplied "
            "from analytics.user(), which prove what the browser holds, not that Segment received its calls"
        )
    if decision.panic or not decision.campaigns:
        verdict = Verdict.NO_FORWARD
    else:
        verdict = {
            _Standing.KNOWN: Verdict.FORWARD,
            _Standing.NOT_KNOWN: Verdict.NO_FORWARD,
            _Standing.UNKNOWABLE: Verdict.UNVERIFIED,
        }[identity]
    return ForwardingVerdict(
        visitor_id=visitor_id,
        anonymous_id=anonymous_id,
        visitor_field=visitor_field,
        verdict=verdict,
        reasons=tuple(findings.reasons),
        warnings=tuple(findings.warnings),
        evidence=tuple(findings.evidence),
        decision=decision,
        segment=segment,
        simulated_events=simulated_events(decision, visitor_field, visitor_id),
    )


def _combined(standings: list[_Standing]) -> _Standing:
    """All IDs known: forward whichever AB Tasty picks; none known: nothing can be forwarded."""
    if all(standing is _Standing.KNOWN for standing in standings):
        return _Standing.KNOWN
    if all(standing is _Standing.NOT_KNOWN for standing in standings):
        return _Standing.NOT_KNOWN
    return _Standing.UNKNOWABLE


def _judge_decision(decision: Decision, visitor_id: str, findings: _Findings) -> None:
    if decision.panic:
        findings.reasons.append(
            Reason(
                "panic_mode",
                "the FE&R environment is in panic mode: every campaign is stopped, so there is nothing to forward",
                "turn panic mode off in AB Tasty (Settings > Feature Experimentation > Environment settings)",
            )
        )
    elif not decision.campaigns:
        findings.reasons.append(
            Reason(
                "no_campaign",
                f"the Decision API assigned visitor {visitor_id!r} no campaign: there is nothing to forward",
                "check the campaigns' targeting and allocation in AB Tasty, and pass the context the app sends "
                "with --context KEY=VALUE",
            )
        )
    else:
        names = ", ".join(f"{c.label} -> {c.variation.name or c.variation.id}" for c in decision.campaigns)
        findings.evidence.append(f"the Decision API assigned {len(decision.campaigns)} campaign(s): {names}")


def _judge_identity(role: str, value: str, id_field: IdType, segment: SegmentSide, findings: _Findings) -> _Standing:
    """A definite "not this ID" from either side wins over a "known" from the other.

    The Profile API speaks for Segment's servers, which AB Tasty asks; an ID read from the visitor's
    browser speaks for what the app really sends. A profile found for an ID the browser does not use
    (often one made by a test event) would receive AB Tasty's events away from the real visitor.
    """
    from_api = _judge_profile_api(role, value, id_field, segment, findings) if segment.profile_api else None
    from_user = _judge_supplied(role, value, id_field, segment, findings, decisive=from_api is None)
    if from_api is _Standing.NOT_KNOWN and from_user is _Standing.KNOWN:
        findings.warnings.append(
            f"analytics.user() holds the {role} {value!r}, yet Segment's Profile API does not know it as "
            f"{id_field.field}: the identify call may not have reached this space yet (profiles take up to "
            "a minute), or went to another source, space or region"
        )
    if from_api is _Standing.KNOWN and from_user is _Standing.NOT_KNOWN:
        findings.warnings.append(
            f"Segment's Profile API does know {id_field.value}:{value} (perhaps from a test event), but the "
            f"visitor's browser uses another {id_field.field}: AB Tasty's events would land on a different "
            "profile than the app's"
        )
    standings = {from_api, from_user}
    for standing in (_Standing.NOT_KNOWN, _Standing.KNOWN):
        if standing in standings:
            return standing
    return _Standing.UNKNOWABLE


def _judge_profile_api(role: str, value: str, id_field: IdType, segment: SegmentSide, findings: _Findings) -> _Standing | None:
    same = segment.lookup(id_field, value)
    if same is None:
        return None
    if same.found:
        findings.evidence.append(f"Segment's Profile API knows {id_field.value}:{value} (the {role})")
        return _Standing.KNOWN
    other = segment.lookup(id_field.other, value)
    if other is not None and other.found:
        finding = f"Segment's Profile API knows the {role} {value!r} only as {id_field.other.field}"
        findings.reasons.append(_other_field_reason(value, id_field, finding, other.linked))
    else:
        looked = "neither as userId nor as anonymousId" if other is not None else f"as {id_field.field}"
        findings.reasons.append(
            Reason(
                "unknown_to_segment",
                f"Segment does not know the {role} {value!r} ({looked}): AB Tasty would drop its events",
                f"make the app send Segment an identify call for {value!r} before asking the Decision API "
                f"(try it with `abseg test-event --visitor {value}`); new profiles can take a minute to appear",
            )
        )
    return _Standing.NOT_KNOWN


def _judge_supplied(
    role: str, value: str, id_field: IdType, segment: SegmentSide, findings: _Findings, *, decisive: bool
) -> _Standing | None:
    """What the IDs read from ``analytics.user()`` say of ``value``.

    The one for the connector's field always counts. The other field's counts only when nothing else
    is known (``decisive``); otherwise what it shows is reported as a warning.
    """
    same = segment.supplied(id_field)
    if same is not None:
        if same == value:
            findings.evidence.append(f"analytics.user().{_reader(id_field)} returned the {role} {value!r}")
            return _Standing.KNOWN
        findings.reasons.append(_supplied_mismatch(role, value, same, id_field))
        return _Standing.NOT_KNOWN
    other = segment.supplied(id_field.other)
    if other is None:
        return None
    if other == value:
        finding = (
            f"the visitor's browser has the {role} {value!r} as its {id_field.other.field} "
            f"(analytics.user().{_reader(id_field.other)})"
        )
        problem = _other_field_reason(value, id_field, finding, ())
    elif near_miss(value, other) or is_placeholder(other):
        problem = _supplied_mismatch(role, value, other, id_field.other)
    else:
        return None
    if not decisive:
        findings.warnings.append(f"{problem.message} ({problem.fix})")
        return None
    findings.reasons.append(problem)
    return _Standing.NOT_KNOWN if other == value else None


def _reader(id_type: IdType) -> str:
    return "userId()" if id_type is IdType.USER_ID else "anonymousId()"


def _supplied_mismatch(role: str, value: str, supplied: str, id_type: IdType) -> Reason:
    reader = f"analytics.user().{_reader(id_type)}"
    if is_placeholder(supplied):
        return Reason(
            "placeholder_id",
            f"{reader} returned {supplied!r}, a placeholder, where AB Tasty got the {role} {value!r}",
            "read the ID after Segment's analytics has loaded (inside analytics.ready()), and identify the "
            "visitor before asking the Decision API",
        )
    kinds = near_miss(value, supplied)
    if kinds:
        words = " and ".join(NEAR_MISS_WORDS[kind] for kind in kinds)
        return Reason(
            "near_miss",
            f"near miss: {reader} returned {supplied!r} but AB Tasty got the {role} {value!r}; "
            f"they differ only by {words}, which makes them different IDs to Segment",
            "pass exactly the same string to the Decision API and to Segment: "
            + _near_miss_fix(kinds),
        )
    return Reason(
        "supplied_id_differs",
        f"{reader} returned {supplied!r} but AB Tasty got the {role} {value!r}",
        f"give the Decision API the ID Segment has ({id_type.field}), or identify the visitor in Segment with "
        f"{value!r}",
    )


def _near_miss_fix(kinds: Iterable[str]) -> str:
    fixes = {
        "whitespace": "trim it where it is read",
        "quotes": "do not JSON-encode or quote it twice",
        "unicode_normalisation": "normalise it to NFC on both sides",
        "case": "do not lower- or upper-case it on one side only",
    }
    return "; ".join(fixes[kind] for kind in kinds)


def _other_field_reason(value: str, id_field: IdType, finding: str, linked: tuple[tuple[str, str], ...]) -> Reason:
    linked_same = [linked_value for kind, linked_value in linked if kind == id_field.value]
    if id_field is IdType.USER_ID:
        fix = (
            f"identify the visitor in Segment with userId {value!r} before asking the Decision API, or, if the app "
            "gives AB Tasty Segment's anonymousId on purpose, set the connector's visitor field to anonymousId"
        )
    else:
        fix = (
            "give the Decision API Segment's anonymousId, or, if the app gives AB Tasty its logged-in user ID on "
            "purpose, set the connector's visitor field to userId"
        )
    if linked_same:
        fix += f" (this profile's {id_field.field} is {linked_same[0]!r})"
    return Reason(
        "known_under_other_field",
        f"mismatch: {finding}, but the connector forwards the visitor ID as {id_field.field}: "
        "AB Tasty would drop its events",
        fix,
    )


def _not_asked(id_field: IdType) -> Reason:
    option = "--segment-user-id" if id_field is IdType.USER_ID else "--segment-anonymous-id"
    return Reason(
        "segment_not_asked",
        "could not ask Segment whether it knows this visitor: the connector has no Profile API configured and no "
        f"{option} was given",
        f"add --profile-space and --profile-token to the connector (needs Segment Unify), or pass {option} with "
        f"what analytics.user().{_reader(id_field)} returns in the visitor's browser",
    )


def _continuity_reason(candidates: list[tuple[str, str]], standings: list[_Standing], id_field: IdType) -> Reason:
    known = [f"{role} {value!r}" for (role, value), s in zip(candidates, standings, strict=True) if s is _Standing.KNOWN]
    unsure = [f"{role} {value!r}" for (role, value), s in zip(candidates, standings, strict=True) if s is not _Standing.KNOWN]
    message = (
        f"Segment knows the {' and '.join(known)} as {id_field.field} but not the {' and '.join(unsure)} (or could "
        "not be asked); which of the two AB Tasty forwards is undocumented"
        if known
        else f"nothing tells whether Segment knows the {' and '.join(unsure)}; which of the two AB Tasty forwards "
        "is undocumented"
    )
    return Reason(
        "continuity_undocumented",
        message,
        f"make Segment know both IDs as {id_field.field} (identify or alias the visitor under each), or have the app "
        "ask the Decision API with one ID only",
    )


def _judge_region(connector_region: str | None, source_region: str | None, identity: _Standing, findings: _Findings) -> None:
    if not connector_region or not source_region or connector_region == source_region:
        return
    text = (
        f"the connector's region is {connector_region.upper()} but its write key's source ingests in "
        f"{source_region.upper()}: events sent to the other region's host are rejected or silently lost"
    )
    fix = f"recreate the connector with --region {source_region} --force"
    if identity is _Standing.KNOWN:
        findings.warnings.append(f"{text} ({fix})")
    else:
        findings.reasons.append(Reason("region_mismatch", text, fix))


def simulated_events(decision: Decision, visitor_field: str, visitor_id: str) -> tuple[dict[str, Any], ...]:
    """What AB Tasty would send if it forwards: an ASSUMED payload (see ``SIMULATION_NOTE``)."""
    if decision.panic:
        return ()
    return tuple(
        {
            "type": "track",
            "event": "Experiment Viewed",
            visitor_field: visitor_id,
            "properties": {
                "experiment_id": campaign.id,
                "experiment_name": campaign.label,
                "variation_id": campaign.variation.id,
                "variation_name": campaign.variation.name or campaign.variation.id,
            },
        }
        for campaign in decision.campaigns
    )
