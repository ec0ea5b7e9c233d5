"""X-Ray tracing for the handlers, patching only what a function loads anyway.

Powertools' ``Tracer()`` patches every library X-Ray supports that is installed, and so
imports it: httpx (tens of milliseconds) would load in every function's cold start, though
only the dialing ones use it. Here botocore is patched at once (every function calls AWS)
and httpx when a dialer client is first built.
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer


def handler_tracer() -> Tracer:
    """The tracer a handler decorates itself with (built at its import, as Powertools' own)."""
    return Tracer(auto_patch=True, patch_modules=("botocore",))


def trace_http_client() -> None:
    """Let X-Ray record calls to the provider (before the first httpx client is made).
    Does nothing where tracing is off, as Powertools decides (outside Lambda, or disabled)."""
    Tracer(auto_patch=False).patch(("httpx",))
