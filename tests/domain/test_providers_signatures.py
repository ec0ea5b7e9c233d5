"""Status-webhook signatures: each provider's scheme against a vector from its own source
(Twilio's docs and twilio-python's tests, retell-python-sdk's tests), and ours and Vapi's
HMAC against vectors computed with openssl; then what must fail: a tampered body, a wrong
secret, a missing or malformed header, a stale or future timestamp."""

from __future__ import annotations

import pytest

from campaign_calling.calls.providers.signatures import (
    retell_signature,
    sign_generic,
    twilio_signature,
    vapi_hmac_signature,
    verify_generic,
    verify_retell,
    verify_twilio,
    verify_vapi_hmac,
    verify_vapi_secret,
)

# Twilio's "Validating requests" example (https://www.twilio.com/docs/usage/security), as in
# twilio-python tests/unit/test_request_validator.py: auth token 12345, this URL and these
# POST parameters give RSOYDt4T1cUTdK1PDd93/VVr8B8=.
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]
TWILIO_EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
# twilio-python's test_compute_signature_duplicate_multi_dict: a repeated name, same URL and token.
TWILIO_DUPLICATES = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
TWILIO_DUPLICATES_EXPECTED = "IK+Dwps556ElfBT0I3Rgjkr1wJU="

# retell-python-sdk tests/test_webhook_auth.py (test_signs_with_hmac_sha256_using_documented_format).
RETELL_BODY = b'{"event":"call_ended"}'
RETELL_KEY = "test-api-key"
RETELL_TS = 1_700_000_000_000
RETELL_DIGEST = "07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e"
RETELL_HEADER = f"v={RETELL_TS},d={RETELL_DIGEST}"

# Ours, computed independently:
#   printf '%s' '1705314600.{"callId":"call_42","status":"completed"}' | openssl dgst -sha256 -hmac whsec_test
GENERIC_SECRET = "whsec_test"
GENERIC_BODY = b'{"callId":"call_42","status":"completed"}'
GENERIC_T = 1_705_314_600
GENERIC_HEADER = f"t={GENERIC_T},v1=4734a3ffaa4460d1bc6d144f0f8e77298d23ba23f339071be5dfe3dce71323e9"

# Vapi's HMAC credential with its documented defaults ({timestamp}.{body}, SHA-256, hex):
#   printf '%s' '1705314600000.<body>' | openssl dgst -sha256 -hmac vapi-hmac-secret
VAPI_SECRET = "vapi-hmac-secret"
VAPI_BODY = b'{"message":{"type":"status-update","status":"ringing","call":{"id":"call_7"}}}'
VAPI_TS = "1705314600000"
VAPI_SIGNATURE = "d7ca7194a182e9f0c9b2d4b865a1bc0a7c4915d86257c4c923f733d556a4414c"

FIVE_MINUTES_MS = 300_000


# --- Twilio -------------------------------------------------------------------------------


def test_given_twilios_documented_example_when_signed_then_the_signature_is_the_documented_one() -> None:
    # Given / When / Then
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == TWILIO_EXPECTED
    assert verify_twilio(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, TWILIO_EXPECTED) is True


def test_given_the_parameters_in_another_order_when_verified_then_the_signature_still_holds() -> None:
    assert verify_twilio(TWILIO_TOKEN, TWILIO_URL, list(reversed(TWILIO_PARAMS)), TWILIO_EXPECTED) is True


def test_given_a_repeated_form_field_when_signed_then_each_value_counts_sorted() -> None:
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_DUPLICATES) == TWILIO_DUPLICATES_EXPECTED


def test_given_the_url_with_its_port_when_verified_then_twilios_portless_signature_holds() -> None:
    # twilio-python's test_validation_removes_port_on_https: Twilio may sign without the port.
    url = TWILIO_URL.replace(".com", ".com:1234")
    assert verify_twilio(TWILIO_TOKEN, url, TWILIO_PARAMS, TWILIO_EXPECTED) is True


def test_given_a_signature_over_the_default_port_when_verified_then_it_holds() -> None:
    # twilio-python's test_validation_adds_port_on_https: the hash of the URL with :443.
    assert verify_twilio(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=") is True


@pytest.mark.parametrize(
    ("token", "url", "params", "signature"),
    [
        pytest.param(
            TWILIO_TOKEN, TWILIO_URL, [*TWILIO_PARAMS[:-1], ("To", "+18005551213")], TWILIO_EXPECTED, id="tampered"
        ),
        pytest.param(
            TWILIO_TOKEN, TWILIO_URL, [*TWILIO_PARAMS, ("CallStatus", "completed")], TWILIO_EXPECTED, id="added"
        ),
        pytest.param(
            TWILIO_TOKEN, TWILIO_URL.replace("foo=1", "foo=2"), TWILIO_PARAMS, TWILIO_EXPECTED, id="other-url"
        ),
        pytest.param("54321", TWILIO_URL, TWILIO_PARAMS, TWILIO_EXPECTED, id="wrong-token"),
        pytest.param(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, None, id="missing"),
        pytest.param(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, "", id="empty"),
        pytest.param("", TWILIO_URL, TWILIO_PARAMS, TWILIO_EXPECTED, id="no-token-configured"),
    ],
)
def test_given_a_request_twilio_did_not_sign_when_verified_then_it_is_refused(
    token: str, url: str, params: list[tuple[str, str]], signature: str | None
) -> None:
    assert verify_twilio(token, url, params, signature) is False


# --- Retell -------------------------------------------------------------------------------


def test_given_retells_sdk_vector_when_signed_then_the_header_is_the_sdks() -> None:
    assert retell_signature(RETELL_KEY, RETELL_BODY, RETELL_TS) == RETELL_HEADER


def test_given_retells_sdk_vector_when_verified_at_its_time_then_it_holds() -> None:
    assert verify_retell(RETELL_KEY, RETELL_BODY, RETELL_HEADER, now_ms=RETELL_TS) is True


def test_given_retells_tolerance_when_verified_at_its_edges_then_five_minutes_either_way_hold() -> None:
    # Given the SDK's rule: more than 5 minutes off either way is refused, exactly 5 is not
    assert verify_retell(RETELL_KEY, RETELL_BODY, RETELL_HEADER, now_ms=RETELL_TS + FIVE_MINUTES_MS) is True
    assert verify_retell(RETELL_KEY, RETELL_BODY, RETELL_HEADER, now_ms=RETELL_TS + FIVE_MINUTES_MS + 1) is False
    assert verify_retell(RETELL_KEY, RETELL_BODY, RETELL_HEADER, now_ms=RETELL_TS - FIVE_MINUTES_MS) is True
    assert verify_retell(RETELL_KEY, RETELL_BODY, RETELL_HEADER, now_ms=RETELL_TS - FIVE_MINUTES_MS - 1) is False


@pytest.mark.parametrize(
    ("key", "body", "header"),
    [
        pytest.param(RETELL_KEY, RETELL_BODY + b" ", RETELL_HEADER, id="tampered"),
        pytest.param("wrong-api-key", RETELL_BODY, RETELL_HEADER, id="wrong-key"),
        pytest.param(RETELL_KEY, RETELL_BODY, None, id="missing"),
        # The SDK's malformed signatures (test_rejects_malformed_signature).
        pytest.param(RETELL_KEY, RETELL_BODY, "", id="empty"),
        pytest.param(RETELL_KEY, RETELL_BODY, f"v={RETELL_TS}", id="no-digest"),
        pytest.param(RETELL_KEY, RETELL_BODY, f"d={RETELL_DIGEST},v={RETELL_TS}", id="swapped"),
        pytest.param(RETELL_KEY, RETELL_BODY, f"prefix-{RETELL_HEADER}", id="prefix"),
        pytest.param(RETELL_KEY, RETELL_BODY, f"{RETELL_HEADER}-suffix", id="suffix"),
        pytest.param(RETELL_KEY, RETELL_BODY, f"v={RETELL_TS},d=not-hex", id="not-hex"),
        pytest.param(RETELL_KEY, RETELL_BODY, f"v={RETELL_TS},d={RETELL_DIGEST[2:]}", id="short"),
        pytest.param(RETELL_KEY, RETELL_BODY, f"v=-{RETELL_TS},d={RETELL_DIGEST}", id="negative"),
        pytest.param(RETELL_KEY, RETELL_BODY, f"{RETELL_HEADER},extra=value", id="extra"),
    ],
)
def test_given_a_webhook_retell_did_not_sign_when_verified_then_it_is_refused(
    key: str, body: bytes, header: str | None
) -> None:
    assert verify_retell(key, body, header, now_ms=RETELL_TS) is False


# --- Vapi ---------------------------------------------------------------------------------


def test_given_the_configured_server_secret_when_x_vapi_secret_carries_it_then_it_holds() -> None:
    assert verify_vapi_secret("s3cr3t", "s3cr3t") is True


@pytest.mark.parametrize("header", [None, "", "s3cr3", "s3cr3t ", "S3CR3T"])
def test_given_any_other_x_vapi_secret_when_verified_then_it_is_refused(header: str | None) -> None:
    assert verify_vapi_secret("s3cr3t", header) is False


def test_given_no_configured_secret_when_an_empty_header_arrives_then_it_is_refused() -> None:
    assert verify_vapi_secret("", "") is False


def test_given_vapis_default_hmac_when_signed_then_it_matches_openssl() -> None:
    assert vapi_hmac_signature(VAPI_SECRET, VAPI_TS, VAPI_BODY) == VAPI_SIGNATURE
    assert verify_vapi_hmac(VAPI_SECRET, VAPI_BODY, VAPI_SIGNATURE, VAPI_TS, now_ms=int(VAPI_TS)) is True


def test_given_a_timestamp_in_seconds_when_verified_then_it_is_read_as_seconds() -> None:
    # Given a credential that sends seconds
    signature = vapi_hmac_signature(VAPI_SECRET, "1705314600", VAPI_BODY)
    # Then it holds at that time and not ten minutes later
    assert verify_vapi_hmac(VAPI_SECRET, VAPI_BODY, signature, "1705314600", now_ms=1_705_314_600_000) is True
    assert verify_vapi_hmac(VAPI_SECRET, VAPI_BODY, signature, "1705314600", now_ms=1_705_315_200_001) is False


@pytest.mark.parametrize(
    ("secret", "body", "signature", "timestamp", "now_ms"),
    [
        pytest.param(VAPI_SECRET, VAPI_BODY + b" ", VAPI_SIGNATURE, VAPI_TS, int(VAPI_TS), id="tampered"),
        pytest.param("other", VAPI_BODY, VAPI_SIGNATURE, VAPI_TS, int(VAPI_TS), id="wrong-secret"),
        pytest.param(VAPI_SECRET, VAPI_BODY, None, VAPI_TS, int(VAPI_TS), id="no-signature"),
        pytest.param(VAPI_SECRET, VAPI_BODY, VAPI_SIGNATURE, None, int(VAPI_TS), id="no-timestamp"),
        pytest.param(VAPI_SECRET, VAPI_BODY, VAPI_SIGNATURE, "1705314600001", int(VAPI_TS), id="other-timestamp"),
        pytest.param(VAPI_SECRET, VAPI_BODY, VAPI_SIGNATURE, "17053146e5", int(VAPI_TS), id="not-digits"),
        pytest.param(VAPI_SECRET, VAPI_BODY, VAPI_SIGNATURE, VAPI_TS, int(VAPI_TS) + FIVE_MINUTES_MS + 1, id="stale"),
        pytest.param(VAPI_SECRET, VAPI_BODY, VAPI_SIGNATURE, VAPI_TS, int(VAPI_TS) - FIVE_MINUTES_MS - 1, id="future"),
    ],
)
def test_given_a_message_vapi_did_not_sign_when_verified_then_it_is_refused(
    secret: str, body: bytes, signature: str | None, timestamp: str | None, now_ms: int
) -> None:
    assert verify_vapi_hmac(secret, body, signature, timestamp, now_ms=now_ms) is False


# --- generic (ours) -----------------------------------------------------------------------


def test_given_our_scheme_when_signed_then_the_header_matches_openssl() -> None:
    assert sign_generic(GENERIC_SECRET, GENERIC_BODY, GENERIC_T) == GENERIC_HEADER


def test_given_a_signed_body_when_verified_within_five_minutes_then_it_holds() -> None:
    # Given a body signed at T, When verified at T, T+5 min and T-5 min (our clock behind), Then
    for now in (GENERIC_T, GENERIC_T + 300, GENERIC_T - 300):
        assert verify_generic(GENERIC_SECRET, GENERIC_BODY, GENERIC_HEADER, now_s=now) is True


@pytest.mark.parametrize(
    ("secret", "body", "header", "now_s"),
    [
        pytest.param(
            GENERIC_SECRET, GENERIC_BODY.replace(b"completed", b"failed"), GENERIC_HEADER, GENERIC_T, id="tampered"
        ),
        pytest.param("whsec_other", GENERIC_BODY, GENERIC_HEADER, GENERIC_T, id="wrong-secret"),
        pytest.param(GENERIC_SECRET, GENERIC_BODY, None, GENERIC_T, id="missing"),
        pytest.param(GENERIC_SECRET, GENERIC_BODY, "", GENERIC_T, id="empty"),
        pytest.param(GENERIC_SECRET, GENERIC_BODY, GENERIC_HEADER, GENERIC_T + 301, id="stale"),
        pytest.param(GENERIC_SECRET, GENERIC_BODY, GENERIC_HEADER, GENERIC_T - 301, id="future"),
        pytest.param(
            GENERIC_SECRET,
            GENERIC_BODY,
            GENERIC_HEADER.replace("t=1705314600", "t=1705314601"),
            GENERIC_T,
            id="other-t",
        ),
        pytest.param(GENERIC_SECRET, GENERIC_BODY, GENERIC_HEADER.upper(), GENERIC_T, id="upper-hex"),
        pytest.param(GENERIC_SECRET, GENERIC_BODY, GENERIC_HEADER.split(",")[1], GENERIC_T, id="no-t"),
        pytest.param(GENERIC_SECRET, GENERIC_BODY, GENERIC_HEADER + ",v0=abc", GENERIC_T, id="extra"),
        pytest.param("", GENERIC_BODY, GENERIC_HEADER, GENERIC_T, id="no-secret-configured"),
    ],
)
def test_given_a_body_we_did_not_sign_when_verified_then_it_is_refused(
    secret: str, body: bytes, header: str | None, now_s: int
) -> None:
    assert verify_generic(secret, body, header, now_s=now_s) is False
