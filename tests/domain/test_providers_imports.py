"""The dialects stay pure and cheap to import: a function that reads a webhook pays for no
HTTP client, no pydantic and no AWS SDK."""

from __future__ import annotations

import subprocess
import sys

DIALECTS = ["generic", "twilio", "vapi", "retell", "signatures", "lifecycle"]


def test_given_every_dialect_when_imported_then_no_http_client_model_library_or_aws_sdk_loads() -> None:
    # Given a fresh interpreter, When every provider module is imported
    script = "; ".join(
        [f"import campaign_calling.calls.providers.{name}" for name in DIALECTS]
        + [
            "import sys",
            "print(','.join(m for m in ('httpx', 'pydantic', 'boto3', 'botocore', 'aws_lambda_powertools') if m in sys.modules))",
        ]
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    # Then none of them came along
    assert loaded == ""
