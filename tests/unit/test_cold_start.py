"""What a cold start loads: each handler imports only what its first request needs.

Each case runs in a fresh interpreter, in Lambda's environment (LAMBDA_TASK_ROOT set, so
Powertools traces and the X-Ray SDK patches as in AWS): a module loaded once stays loaded,
and X-Ray's patches are process-wide. `make bench ONLY=cold_start` measures the times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from campaign_local.template import Template, find_template

TEMPLATE = Template(find_template())
ROOT = TEMPLATE.root

# Imports every handler, then reports what is loaded and what X-Ray patched.
_IMPORT_HANDLERS = """
import importlib.util, json, sys
for name, path in json.loads(sys.argv[1]).items():
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
from aws_xray_sdk.core.patcher import _PATCHED_MODULES
print(json.dumps({"modules": sorted(sys.modules), "patched": sorted(_PATCHED_MODULES)}))
"""

_DIALER_CLIENT = """
import json
from campaign_calling.observability.tracing import handler_tracer, trace_http_client
handler_tracer()
trace_http_client()
from aws_xray_sdk.core.patcher import _PATCHED_MODULES
print(json.dumps({"patched": sorted(_PATCHED_MODULES)}))
"""


def _run(code: str, *args: str, tracing: bool) -> dict[str, list[str]]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": "cold-start-test",
        "POWERTOOLS_SERVICE_NAME": "campaign-calling",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    if tracing:
        env["LAMBDA_TASK_ROOT"] = str(ROOT)  # Powertools and the X-Ray SDK: "in Lambda"
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env, cwd=ROOT
    )
    result: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_no_handler_loads_the_http_client_or_phone_metadata_at_import() -> None:
    # Given every function's handler module, in Lambda with tracing on
    handlers = {f"handler_{logical_id}": str(spec.handler_file) for logical_id, spec in TEMPLATE.functions().items()}
    # When they are all imported
    loaded = _run(_IMPORT_HANDLERS, json.dumps(handlers), tracing=True)
    # Then X-Ray traces AWS calls from the start, and httpx and phonenumbers wait for first use
    assert "botocore" in loaded["patched"]
    assert "httpx" not in loaded["patched"]
    assert not [m for m in loaded["modules"] if m.split(".")[0] in {"httpx", "phonenumbers"}]


def test_the_dialer_client_is_traced_when_tracing_is_on() -> None:
    # Given tracing on, When a dialer client is about to be built
    loaded = _run(_DIALER_CLIENT, tracing=True)
    # Then X-Ray has patched httpx, so calls to the provider are recorded
    assert set(loaded["patched"]) >= {"botocore", "httpx"}


def test_nothing_is_patched_where_tracing_is_off() -> None:
    # Given tracing off (outside Lambda: the tests, the local engine)
    loaded = _run(_DIALER_CLIENT, tracing=False)
    # Then X-Ray patches nothing
    assert loaded["patched"] == []
