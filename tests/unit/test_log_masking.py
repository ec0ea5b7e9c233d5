"""Phone numbers never reach the logs whole: the handlers' logger masks them everywhere in
a record, keeping the country code and the last two digits."""

from __future__ import annotations

import ast
import io
import json
import uuid
from pathlib import Path

import pytest
from aws_lambda_powertools import Logger

from campaign_calling.observability.log_masking import mask_phone, mask_phone_numbers, masked_json, redact_contact

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("+12025550123", "+1********23"),
        ("+442071838750", "+44********50"),
        ("+44 20 7183 8750", "+44********50"),
        ("+1 (202) 555-0123", "+1********23"),
        ("+353861234567", "+353*******67"),
    ],
)
def test_a_number_keeps_its_country_code_and_last_two_digits(written: str, masked: str) -> None:
    assert mask_phone(written) == masked


def test_numbers_inside_text_are_masked_and_ids_and_times_are_not() -> None:
    # Given a provider's error quoting the number, beside an id and a timestamp
    text = "call aidial-1705314600000-k3j9x2 at 2024-01-15T10:30:00+00:00: 'To' +12025550123 is not reachable"
    # When it is masked
    masked = mask_phone_numbers(text)
    # Then only the number changed
    assert masked == "call aidial-1705314600000-k3j9x2 at 2024-01-15T10:30:00+00:00: 'To' +1********23 is not reachable"


@pytest.mark.parametrize(
    "quoted",
    ["+12025550123", "+1 (202) 555-0123", "12025550123", "2025550123", "(202) 555-0123", "202.555.0123"],
)
def test_a_contacts_number_is_taken_out_of_a_text_in_any_form(quoted: str) -> None:
    # Given a provider's error quoting the contact's number in some form, and its name
    text = f"customer Ada Lovelace: {quoted} is not reachable (request 1705314600000)"
    # When the contact is redacted from it
    redacted = redact_contact(text, "Ada Lovelace", "+12025550123")
    # Then neither is left; other digits are
    assert redacted == "customer <contact name>: +1********23 is not reachable (request 1705314600000)"


def test_a_contacts_name_is_taken_out_as_a_whole_word_only() -> None:
    text = "ALAN rejected: Alan's line, alanine, +442071838750 barred"
    assert redact_contact(text, "Alan", "+12025550123") == (
        "<contact name> rejected: <contact name>'s line, alanine, +44********50 barred"
    )


def test_a_logger_built_like_the_handlers_masks_message_extra_keys_and_exceptions() -> None:
    # Given a Powertools logger with the handlers' serializer
    stream = io.StringIO()
    logger = Logger(service=f"masking-{uuid.uuid4().hex}", json_serializer=masked_json, stream=stream)
    # When a number appears in the message, in an extra key and in an exception
    logger.info("dialing +12025550123", extra={"reason": "provider answered 400: +442071838750 is invalid"})
    try:
        raise ValueError("'+353861234567' is not a valid phone number")
    except ValueError:
        logger.exception("unhandled error")
    # Then no line holds a whole number, and each is still a JSON record
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["dialing +1********23", "unhandled error"]
    for whole in ("2025550123", "2071838750", "861234567"):
        assert whole not in stream.getvalue()
    assert "+44********50" in lines[0] and "+353*******67" in lines[1]


@pytest.mark.parametrize("handler", sorted(ROOT.glob("functions/*/app.py")), ids=lambda p: p.parent.name)
def test_every_handler_logs_through_the_masking_serializer(handler: Path) -> None:
    calls = [
        node
        for node in ast.walk(ast.parse(handler.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Logger"
    ]
    assert calls, "no Logger"
    for call in calls:
        serializer = {k.arg: k.value for k in call.keywords}.get("json_serializer")
        assert isinstance(serializer, ast.Name) and serializer.id == "masked_json", ast.dump(call)
