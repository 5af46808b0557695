"""The forwarding rule on its own: inputs in, verdict out, no service anywhere."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from abseg.decision import Campaign, Decision, Variation
from abseg.forwarding import (
    SIMULATION_NOTE,
    SegmentSide,
    Verdict,
    decide_forwarding,
    is_placeholder,
    near_miss,
)
from abseg.profiles import IdType, ProfileLookup

CAMPAIGN = Campaign(
    id="c1", name="Checkout test", slug=None, type="ab", variation_group_id="vg1", variation_group_name=None,
    variation=Variation(id="var1", name="Blue button", reference=False, modifications_type="FLAG", flags={"blue": True}),
)
ASSIGNED = Decision("v1", (CAMPAIGN,))


def known(*ids: tuple[IdType, str], unknown: tuple[tuple[IdType, str], ...] = ()) -> SegmentSide:
    lookups = [ProfileLookup(t, v, True) for t, v in ids] + [ProfileLookup(t, v, False) for t, v in unknown]
    return SegmentSide(profile_api=True, lookups=tuple(lookups))


def verdict(segment: SegmentSide, *, field: str = "userId", visitor: str = "v1", decision: Decision = ASSIGNED, **kw):
    return decide_forwarding(visitor_field=field, visitor_id=visitor, decision=decision, segment=segment, **kw)


def codes(result) -> list[str]:
    return [reason.code for reason in result.reasons]


U, A = IdType.USER_ID, IdType.ANONYMOUS_ID


# --- Profile API evidence ------------------------------------------------------------------------


def test_known_in_the_connectors_field_forwards():
    result = verdict(known((U, "v1")))
    assert result.verdict is Verdict.FORWARD and result.exit_code == 0
    assert result.reasons == ()
    assert any("user_id:v1" in fact for fact in result.evidence)


def test_known_as_anonymous_id_when_the_connector_forwards_user_id_is_a_named_mismatch():
    result = verdict(known((A, "v1"), unknown=((U, "v1"),)))
    assert result.verdict is Verdict.NO_FORWARD
    assert codes(result) == ["known_under_other_field"]
    assert "only as anonymousId" in result.reasons[0].message and "as userId" in result.reasons[0].message


def test_other_field_mismatch_names_the_id_segment_has_instead():
    segment = SegmentSide(
        profile_api=True,
        lookups=(ProfileLookup(A, "anon-1", True, (("user_id", "real-user"),)), ProfileLookup(U, "anon-1", False)),
    )
    result = verdict(segment, visitor="anon-1", field="userId")
    assert "'real-user'" in result.reasons[0].fix


def test_unknown_everywhere_is_no_forward_saying_segment_does_not_know_it():
    result = verdict(known(unknown=((U, "v1"), (A, "v1"))))
    assert result.verdict is Verdict.NO_FORWARD
    assert codes(result) == ["unknown_to_segment"]
    assert "does not know" in result.reasons[0].message
    assert "abseg test-event --visitor v1" in result.reasons[0].fix


def test_anonymous_id_connector_mirrors_the_rule():
    assert verdict(known((A, "v1")), field="anonymousId").verdict is Verdict.FORWARD
    result = verdict(known((U, "v1"), unknown=((A, "v1"),)), field="anonymousId")
    assert codes(result) == ["known_under_other_field"]


# --- the Decision API's side ---------------------------------------------------------------------


def test_no_campaign_means_nothing_to_forward_even_for_a_known_visitor():
    result = verdict(known((U, "v1")), decision=Decision("v1", ()))
    assert result.verdict is Verdict.NO_FORWARD
    assert codes(result) == ["no_campaign"]
    assert result.simulated_events == ()


def test_panic_mode_is_no_forward_with_its_own_reason():
    result = verdict(known((U, "v1")), decision=Decision("v1", (), panic=True))
    assert result.verdict is Verdict.NO_FORWARD
    assert codes(result) == ["panic_mode"]


def test_every_reason_is_reported_not_only_the_first():
    result = verdict(known(unknown=((U, "v1"), (A, "v1"))), decision=Decision("v1", ()))
    assert codes(result) == ["no_campaign", "unknown_to_segment"]


# --- IDs the user supplies -----------------------------------------------------------------------


def test_without_profile_api_or_supplied_ids_it_is_unverified_and_says_so():
    result = verdict(SegmentSide())
    assert result.verdict is Verdict.UNVERIFIED and result.exit_code == 1
    assert codes(result) == ["segment_not_asked"]
    assert "could not ask Segment" in result.reasons[0].message
    assert "--segment-user-id" in result.reasons[0].fix


def test_a_supplied_user_id_equal_to_the_visitor_id_forwards():
    result = verdict(SegmentSide(supplied_user_id="v1"))
    assert result.verdict is Verdict.FORWARD


@pytest.mark.parametrize(
    ("supplied", "kinds"),
    [
        ("V1", ("case",)),
        (" v1", ("whitespace",)),
        ("V1 ", ("whitespace", "case")),
        ('"v1"', ("quotes",)),
        ("'v1'\n", ("whitespace", "quotes")),
        ("\u201cv1\u201d", ("quotes",)),
    ],
)
def test_near_misses_are_named_with_what_differs(supplied, kinds):
    assert near_miss("v1", supplied) == kinds
    result = verdict(SegmentSide(supplied_user_id=supplied))
    assert result.verdict is Verdict.NO_FORWARD
    assert codes(result) == ["near_miss"]
    assert "near miss" in result.reasons[0].message and repr(supplied) in result.reasons[0].message


def test_unicode_normalisation_near_miss():
    nfc, nfd = unicodedata.normalize("NFC", "zoé"), unicodedata.normalize("NFD", "zoé")
    assert nfc != nfd
    assert near_miss(nfc, nfd) == ("unicode_normalisation",)
    assert near_miss(nfc, nfd.upper()) == ("unicode_normalisation", "case")
    result = verdict(SegmentSide(supplied_user_id=nfd), visitor=nfc)
    assert "NFC vs NFD" in result.reasons[0].message


@pytest.mark.parametrize("placeholder", ["undefined", "null", "", '"undefined"'])
def test_placeholders_from_analytics_user_are_named(placeholder):
    assert is_placeholder(placeholder)
    result = verdict(SegmentSide(supplied_user_id=placeholder))
    assert result.verdict is Verdict.NO_FORWARD
    assert codes(result) == ["placeholder_id"]
    assert "analytics.ready()" in result.reasons[0].fix


def test_an_unrelated_supplied_id_differs_without_being_a_near_miss():
    result = verdict(SegmentSide(supplied_user_id="someone-else"))
    assert codes(result) == ["supplied_id_differs"]


def test_supplied_anonymous_id_equal_to_the_visitor_id_is_a_field_mismatch():
    result = verdict(SegmentSide(supplied_anonymous_id="v1"))
    assert result.verdict is Verdict.NO_FORWARD
    assert codes(result) == ["known_under_other_field"]
    assert "analytics.user().anonymousId()" in result.reasons[0].message


def test_supplied_near_miss_in_the_other_field_is_reported_but_cannot_decide():
    result = verdict(SegmentSide(supplied_anonymous_id="V1"))
    assert result.verdict is Verdict.UNVERIFIED
    assert codes(result) == ["near_miss", "segment_not_asked"]


def test_a_browser_id_that_differs_beats_a_profile_found_for_the_visitor_id():
    # Segment may know v1 only from a test event while the app's real calls use 'V1 '.
    segment = SegmentSide(profile_api=True, lookups=(ProfileLookup(U, "v1", True),), supplied_user_id="V1 ")
    result = verdict(segment)
    assert result.verdict is Verdict.NO_FORWARD
    assert codes(result) == ["near_miss"]
    assert any("different profile" in warning for warning in result.warnings)


def test_profile_api_not_knowing_the_id_beats_the_browser_having_it():
    segment = SegmentSide(
        profile_api=True, lookups=(ProfileLookup(U, "v1", False), ProfileLookup(A, "v1", False)), supplied_user_id="v1"
    )
    result = verdict(segment)
    assert result.verdict is Verdict.NO_FORWARD
    assert any("may not have reached" in warning for warning in result.warnings)


# --- experience continuity -----------------------------------------------------------------------


def test_anonymous_id_in_play_both_known_forwards_with_a_warning():
    result = verdict(known((U, "v1"), (U, "anon")), anonymous_id="anon")
    assert result.verdict is Verdict.FORWARD
    assert any("undocumented" in warning for warning in result.warnings)


def test_anonymous_id_in_play_only_one_known_cannot_be_verified():
    result = verdict(known((U, "v1"), unknown=((U, "anon"), (A, "anon"))), anonymous_id="anon")
    assert result.verdict is Verdict.UNVERIFIED
    assert "continuity_undocumented" in codes(result)
    assert "unknown_to_segment" in codes(result)


def test_anonymous_id_in_play_neither_known_is_no_forward():
    result = verdict(known(unknown=((U, "v1"), (A, "v1"), (U, "anon"), (A, "anon"))), anonymous_id="anon")
    assert result.verdict is Verdict.NO_FORWARD
    assert codes(result) == ["unknown_to_segment", "unknown_to_segment"]


def test_an_anonymous_id_equal_to_the_visitor_id_is_not_a_second_candidate():
    result = verdict(known((U, "v1")), anonymous_id="v1")
    assert result.verdict is Verdict.FORWARD and result.warnings == ()


# --- region --------------------------------------------------------------------------------------


def test_region_mismatch_explains_an_unknown_id():
    segment = SegmentSide(
        profile_api=True, lookups=(ProfileLookup(U, "v1", False), ProfileLookup(A, "v1", False)), source_region="eu"
    )
    result = verdict(segment, connector_region="us")
    assert codes(result) == ["unknown_to_segment", "region_mismatch"]
    assert "--region eu" in result.reasons[1].fix


def test_region_mismatch_is_only_a_warning_when_the_id_is_known():
    segment = SegmentSide(profile_api=True, lookups=(ProfileLookup(U, "v1", True),), source_region="eu")
    result = verdict(segment, connector_region="us")
    assert result.verdict is Verdict.FORWARD
    assert any("region" in warning for warning in result.warnings)


# --- the simulation ------------------------------------------------------------------------------


def test_simulated_events_follow_segments_experiment_viewed_convention_and_are_labelled():
    result = verdict(known((U, "v1")))
    assert result.simulated_events == (
        {
            "type": "track",
            "event": "Experiment Viewed",
            "userId": "v1",
            "properties": {
                "experiment_id": "c1",
                "experiment_name": "Checkout test",
                "variation_id": "var1",
                "variation_name": "Blue button",
            },
        },
    )
    document = result.as_json()
    assert document["simulated_events"]["note"] == SIMULATION_NOTE
    assert SIMULATION_NOTE.startswith("simulation:") and "does not document" in SIMULATION_NOTE


def test_simulated_events_carry_the_visitor_id_in_the_connectors_field():
    result = verdict(known((A, "v1")), field="anonymousId")
    assert result.simulated_events[0]["anonymousId"] == "v1" and "userId" not in result.simulated_events[0]


# --- properties ----------------------------------------------------------------------------------

ids = st.text(min_size=1, max_size=20)


@given(ids)
def test_an_id_is_never_a_near_miss_of_itself(value):
    assert near_miss(value, value) == ()


@given(ids.filter(lambda v: v == v.strip() and v[0] not in "\"'`\u2018\u2019\u201c\u201d"))
def test_whitespace_and_quotes_around_an_id_are_always_caught(value):
    kinds = near_miss(value, f' "{value}" ')
    assert kinds[:2] == ("whitespace", "quotes")


@given(
    st.sampled_from(["userId", "anonymousId"]),
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), ids),
    st.one_of(st.none(), ids),
    st.booleans(),
)
def test_forward_needs_a_campaign_and_positive_evidence(field, found_same, found_other, user_id, anon_id, panic):
    id_type = IdType.of_field(field)
    lookups = (ProfileLookup(id_type, "v1", found_same), ProfileLookup(id_type.other, "v1", found_other))
    decision = Decision("v1", () if panic else (CAMPAIGN,), panic=panic)
    segment = SegmentSide(profile_api=True, lookups=lookups, supplied_user_id=user_id, supplied_anonymous_id=anon_id)
    result = verdict(segment, field=field, decision=decision)
    assert (result.verdict is Verdict.FORWARD) == (not result.reasons)
    if result.verdict is Verdict.FORWARD:
        assert found_same and not panic
        assert segment.supplied(id_type) in (None, "v1")
    else:
        assert result.reasons
