"""Protocol helpers fed hostile input: they refuse it with their own error, never crash."""

from __future__ import annotations

import hashlib
import time

import pytest

from outlast.protocol import durations, signing

KEY = "5e" * 32


@pytest.mark.parametrize(
    "absurd",
    ["36501d", "99999999999999999999w", "1" * 5000, 10**30, 10**5000, float("inf")],
    ids=["36501d", "weeks", "digits", "1e30", "1e5000", "inf"],
)
def test_durations_longer_than_a_century_are_refused(absurd: str | int | float) -> None:
    with pytest.raises(durations.DurationError, match="longer than 36500d"):
        durations.parse_ms(absurd)


def test_durations_up_to_a_century_parse() -> None:
    assert durations.parse_ms("36500d") == durations.MAX_DURATION_MS
    assert durations.parse_ms(durations.MAX_DURATION_MS) == durations.MAX_DURATION_MS


def test_nan_is_not_a_duration() -> None:
    with pytest.raises(durations.DurationError, match="invalid"):
        durations.parse_ms(float("nan"))


def test_non_ascii_bearer_tokens_do_not_match_instead_of_raising() -> None:
    assert not signing.bearer_matches("ключ", [KEY])
    assert not signing.bearer_matches("\udcff", [KEY])
    assert signing.bearer_matches(hashlib.sha256(bytes.fromhex(KEY)).hexdigest(), [KEY])
    assert not signing.same_secret("é", "e")


def test_non_ascii_signatures_are_refused_with_signature_error() -> None:
    with pytest.raises(signing.SignatureError, match="does not match"):
        signing.verify(b"{}", f"t={int(time.time())}&s=é", [KEY])
