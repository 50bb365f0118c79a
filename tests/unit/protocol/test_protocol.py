"""Wire-level helpers: ids, signatures, durations."""

from __future__ import annotations

import hashlib

import pytest

from outlast.protocol import durations, ids, signing


def test_step_ids_hash_and_repeat_with_suffix() -> None:
    c = ids.StepIdCounter()
    assert c.next("a") == ("a", hashlib.sha1(b"a").hexdigest())
    assert c.next("a") == ("a:1", hashlib.sha1(b"a:1").hexdigest())
    assert c.next("a")[0] == "a:2"
    assert c.next("b")[0] == "b"


def test_seeded_ulids_are_deterministic_and_counted_from_one() -> None:
    seed = "1700000000000,AAECAwQFBgcICQ=="  # entropy bytes 00..09
    first = ids.seeded_ulids(seed, 3)
    assert first == ids.seeded_ulids(seed, 3)
    assert len(set(first)) == 3
    from ulid import ULID

    u = ULID.from_str(first[0])
    assert u.milliseconds == 1_700_000_000_000
    raw = u.bytes
    # bytes 6..10 of the entropy are 06070809 + 1 for the first event
    assert int.from_bytes(raw[12:16], "big") == int.from_bytes(bytes([6, 7, 8, 9]), "big") + 1
    with pytest.raises(ids.SeedError):
        ids.seeded_ulids("nonsense", 1)


def test_signatures_verify_and_reject() -> None:
    key = "signkey-prod-" + "ab" * 32
    body = b'{"a":1}'
    header = signing.sign(body, key, ts=1_700_000_000)
    signing.verify(body, header, [key], now=1_700_000_010)
    with pytest.raises(signing.SignatureError):
        signing.verify(b'{"a":2}', header, [key], now=1_700_000_010)
    with pytest.raises(signing.SignatureError):
        signing.verify(body, header, [key], now=1_700_001_000)  # too old
    with pytest.raises(signing.SignatureError):
        signing.verify(body, None, [key])
    # the fallback key is accepted too
    other = "signkey-prod-" + "cd" * 32
    signing.verify(body, signing.sign(body, other, ts=5), [key, other], now=5)


def test_bearer_accepts_plain_and_hashed_keys_with_or_without_prefix() -> None:
    key = "signkey-test-" + "12" * 32
    hashed = signing.hash_key(key)
    assert hashed.startswith("signkey-test-")
    assert hashed[len("signkey-test-") :] == hashlib.sha256(bytes.fromhex("12" * 32)).hexdigest()
    for token in (key, hashed, signing.strip_prefix(hashed), signing.strip_prefix(key)):
        assert signing.bearer_matches(token, [key])
    assert not signing.bearer_matches("signkey-test-" + "00" * 32, [key])


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("30s", 30_000),
        ("1m", 60_000),
        ("1h30m", 5_400_000),
        ("2d", 172_800_000),
        ("500ms", 500),
        ("1w", 604_800_000),
        (1500, 1500),
    ],
)
def test_durations_parse(text: str | int, ms: int) -> None:
    assert durations.parse_ms(text) == ms


@pytest.mark.parametrize("bad", ["", "1x", "h", "1h 2", "-1s", "1h30"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(durations.DurationError):
        durations.parse_ms(bad)


def test_durations_format_round_trips() -> None:
    for ms in (500, 30_000, 5_400_000, 90_061_001):
        assert durations.parse_ms(durations.format_ms(ms)) == ms


def test_monotonic_ulids_sort_in_the_order_given_and_carry_the_time() -> None:
    from ulid import ULID

    from outlast.protocol import ids

    for _ in range(50):
        batch = ids.monotonic_ulids(1_700_000_000_000, 200)
        assert batch == sorted(batch) and len(set(batch)) == 200
        assert {ULID.from_str(u).milliseconds for u in batch} == {1_700_000_000_000}


@pytest.mark.parametrize(
    "names",
    [
        {"appname": "shop", "deploy_type": "ping", "app_version": "1"},  # PyPI inngest
        {"appName": "shop", "deployType": "ping", "appVersion": "1"},  # npm inngest
    ],
)
def test_a_sync_body_is_read_in_either_sdks_spelling(names: dict[str, str]) -> None:
    from outlast.protocol.registration import RegisterRequest

    body = {"url": "http://127.0.0.1:3000/api/inngest", "functions": [], **names}
    parsed = RegisterRequest.model_validate(body)
    assert (parsed.app_name, parsed.deploy_type, parsed.app_version) == ("shop", "ping", "1")
