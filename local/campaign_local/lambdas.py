"""Runs the project's Lambda handlers locally, and serves the Lambda Invoke API for them
so the state machine's ``lambda:invoke`` tasks reach the real handlers over HTTP."""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from campaign_local.faults import parse_fault
from campaign_local.log_context import isolate_powertools_loggers
from campaign_local.moto_patches import TRANSACTION_FAULT_REASONS, TransactionFaults
from campaign_local.router_context import isolate_powertools_routers
from campaign_local.serving import WsgiServer
from campaign_local.stats import AwsRequestCounter, current_function
from campaign_local.template import FunctionSpec, function_arn

logger = logging.getLogger(__name__)

_INVOKE_PATH = "/2015-03-31/functions/"


@dataclass
class LambdaContext:
    """What the Lambda runtime hands a handler; Powertools reads these fields."""

    function_name: str
    timeout_seconds: float
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.invoked_function_arn = function_arn(self.function_name)
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """A handler raised: the Invoke API reports it as a function error."""

    def __init__(self, error_type: str, message: str, stack: list[str]) -> None:
        super().__init__(message)
        self.payload = {"errorMessage": message, "errorType": error_type, "stackTrace": stack}


class FunctionTimedOut(FunctionError):
    """The invocation ran past the function's Timeout: Lambda's answer on current runtimes."""

    def __init__(self, request_id: str, seconds: float) -> None:
        message = f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds"
        super().__init__("Sandbox.Timedout", message, [])
        self.payload = {"errorType": "Sandbox.Timedout", "errorMessage": message}


class Invocation:
    """One run of a handler in a worker thread, as Lambda runs it: it ends when the handler
    returns or when the function's Timeout passes, whichever comes first. A handler that
    overran goes on in the background, as a container does until it is recycled: its late
    writes must be harmless."""

    def __init__(self, context: LambdaContext, run: Callable[[], Any]) -> None:
        self.context = context
        self._started = time.monotonic()
        self._finished_at: float | None = None
        self._done = threading.Event()
        self._result: Any = None
        self._error: FunctionError | None = None
        self._thread = threading.Thread(
            target=self._work, args=(run,), name=f"lambda-{context.function_name}", daemon=True
        )
        self._thread.start()

    def _work(self, run: Callable[[], Any]) -> None:
        try:
            self._result = run()
        except Exception as exc:  # reported to the caller like Lambda's "Unhandled" error
            self._error = FunctionError(type(exc).__name__, str(exc), traceback.format_exception(exc))
        finally:
            self._finished_at = time.monotonic()
            self._done.set()

    @property
    def _timeout_at(self) -> float:
        return self._started + self.context.timeout_seconds

    def wait(self, seconds: float | None = None) -> bool:
        """Wait for the invocation to end, at most ``seconds``; whether it ended."""
        until_timeout = self._timeout_at - time.monotonic()
        self._done.wait(max(0.0, until_timeout if seconds is None else min(seconds, until_timeout)))
        return self._done.is_set() or time.monotonic() >= self._timeout_at

    def result(self) -> Any:
        """What the handler returned, once ended (see wait): FunctionError if it raised,
        FunctionTimedOut if it ran past the Timeout."""
        finished = self._finished_at
        if finished is None or finished > self._timeout_at:
            raise FunctionTimedOut(self.context.aws_request_id, self.context.timeout_seconds)
        if self._error is not None:
            raise self._error
        return self._result


class LocalFunctions:
    """The template's functions, each loaded once from its own folder like a Lambda
    container. Every invocation is held to the function's Timeout from template.yaml, or
    to ``timeouts`` (seconds by logical id) for a run that needs them shorter."""

    def __init__(self, specs: dict[str, FunctionSpec], timeouts: dict[str, float] | None = None) -> None:
        unknown = set(timeouts or {}) - set(specs)
        if unknown:
            raise ValueError(f"timeout for unknown function(s) {sorted(unknown)}")
        self._specs = {
            name: replace(spec, timeout_seconds=(timeouts or {}).get(name, spec.timeout_seconds))
            for name, spec in specs.items()
        }
        # Idle containers per function: a loaded copy of its handler module each. Lambda runs
        # concurrent invocations in separate containers, so module state (Powertools'
        # resolver keeps the current event and route on the app) is never shared between
        # two invocations in flight; here each in-flight invocation holds a container too.
        # What Powertools keeps per process rather than per app is kept per invocation.
        isolate_powertools_routers()
        self._idle: dict[str, list[ModuleType]] = {}
        self._lock = threading.Lock()
        self.invocations: list[tuple[str, float]] = []
        # Milliseconds each function's handlers ran, in total (what Lambda bills as duration).
        self.duration_ms: Counter[str] = Counter()

    @property
    def names(self) -> list[str]:
        return list(self._specs)

    def timeout_seconds(self, logical_id: str) -> float:
        return self._specs[logical_id].timeout_seconds

    def handler(self, logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
        """The handler of an idle container (for reading its routes, not for invoking)."""
        container = self._acquire(logical_id)
        self._release(logical_id, container)
        return self._handler_of(logical_id, container)

    def _handler_of(self, logical_id: str, container: ModuleType) -> Callable[[dict[str, Any], Any], Any]:
        handler: Callable[[dict[str, Any], Any], Any] = getattr(container, self._specs[logical_id].handler_name)
        return handler

    def _acquire(self, logical_id: str) -> ModuleType:
        """An idle container of the function, or a new one (a cold start)."""
        with self._lock:
            idle = self._idle.setdefault(logical_id, [])
            if idle:
                return idle.pop()
            container = load_handler_module(self._specs[logical_id])
            isolate_powertools_loggers()  # loading it configured its logger
            return container

    def _release(self, logical_id: str, container: ModuleType) -> None:
        with self._lock:
            self._idle[logical_id].append(container)

    def start(self, logical_id: str, event: dict[str, Any], *, overrun_ms: int = 0) -> Invocation:
        """Start one invocation. ``overrun_ms``: the handler's code takes that much longer
        (a slow dependency), counted against the Timeout."""
        spec = self._specs[logical_id]
        container = self._acquire(logical_id)
        handler = self._handler_of(logical_id, container)
        self.invocations.append((logical_id, time.time()))
        context = LambdaContext(function_name=logical_id, timeout_seconds=spec.timeout_seconds)

        def run() -> Any:
            token = current_function.set(logical_id)
            started = time.monotonic()
            try:
                time.sleep(overrun_ms / 1000)
                return handler(event, context)
            finally:
                current_function.reset(token)
                with self._lock:
                    self.duration_ms[logical_id] += round((time.monotonic() - started) * 1000)
                # Free once the handler is done (one that overran its Timeout holds its
                # container until then, as a container is busy until its runtime is reset).
                self._release(logical_id, container)

        return Invocation(context, run)

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Invoke and wait, as a synchronous Invoke does: the handler's result, or
        FunctionError (FunctionTimedOut when it overran its Timeout)."""
        invocation = self.start(logical_id, event)
        invocation.wait()
        return invocation.result()


def load_handler_module(spec: FunctionSpec) -> ModuleType:
    """Import a function's handler file under a name of its own (every folder has an app.py)."""
    module_name = f"local_lambda_{spec.logical_id}"
    module_spec = importlib.util.spec_from_file_location(module_name, spec.handler_file)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {spec.handler_file}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


INVOKE_FAULT_MODES = frozenset({"throttle", "error-after", "timeout", "delay", "overrun"})
# Lambda refuses a synchronous invocation's response over this many bytes of JSON (its own
# figure: "6 MB" in the quotas) and reports the invocation as failed instead; API Gateway then
# answers 500. The response is measured as the Python runtime serialises it, every non-ASCII
# character escaped (the longest it can be).
MAX_RESPONSE_BYTES = 6_291_556
RESPONSE_TOO_LARGE = {
    "errorType": "Function.ResponseSizeTooLarge",
    "errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
}


@dataclass
class InvokeFault:
    """A fault for the next ``remaining`` invocations of one function (None: until cleared).

    - throttle: Lambda refuses the invocation (429 TooManyRequestsException); the handler never runs.
    - error-after: the handler runs to the end, then the invocation reports a crash.
    - timeout: the invocation reports Sandbox.Timedout after ``after_ms`` while the handler
      is still running, whatever its Timeout (it goes on in the background, like a
      container that is not frozen in time: its late writes must be harmless).
    - delay: the handler starts ``after_ms`` late (a slow cold start, not counted in the Timeout).
    - overrun: the handler's code takes ``after_ms`` longer (a slow dependency), counted
      against the function's Timeout: past it, the invocation ends with Lambda's timeout error.
    """

    function: str
    mode: str
    remaining: int | None = 1
    after_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "mode": self.mode, "count": self.remaining, "latencyMs": self.after_ms}


class InvokeFaults:
    """The faults switched on, one per function; every invocation takes its function's
    fault, whether it comes through the Invoke API or the HTTP API (API Gateway invokes
    Lambda the same way)."""

    def __init__(self) -> None:
        self._faults: dict[str, InvokeFault] = {}
        self._lock = threading.Lock()

    def set(self, fault: InvokeFault) -> None:
        with self._lock:
            self._faults[fault.function] = fault

    def clear(self, function: str | None = None) -> None:
        """Every fault, or only ``function``'s."""
        with self._lock:
            if function is None:
                self._faults.clear()
            else:
                self._faults.pop(function, None)

    def listed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults.values()]

    def take(self, logical_id: str) -> InvokeFault | None:
        with self._lock:
            fault = self._faults.get(logical_id)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[logical_id]
            return fault


@dataclass
class InvokeOutcome:
    """How one invocation ended, as the Invoke API reports it."""

    result: Any = None
    error: dict[str, Any] | None = None  # the payload of an Unhandled function error
    throttled: bool = False


def invoke_with_faults(
    functions: LocalFunctions,
    faults: InvokeFaults,
    logical_id: str,
    event: dict[str, Any],
    *,
    wait_at_most: float | None = None,
) -> InvokeOutcome | None:
    """One invocation as Lambda performs it, with the function's fault if one is switched
    on. None when ``wait_at_most`` passed before the invocation ended (it goes on)."""
    fault = faults.take(logical_id)
    if fault and fault.mode == "throttle":
        return InvokeOutcome(throttled=True)
    if fault and fault.mode == "delay":
        time.sleep(fault.after_ms / 1000)
    invocation = functions.start(
        logical_id, event, overrun_ms=fault.after_ms if fault and fault.mode == "overrun" else 0
    )
    if fault and fault.mode == "timeout":
        time.sleep(fault.after_ms / 1000)
        return InvokeOutcome(error=FunctionTimedOut(invocation.context.aws_request_id, fault.after_ms / 1000).payload)
    if not invocation.wait(wait_at_most):
        return None
    try:
        result = invocation.result()
    except FunctionError as exc:
        logger.warning("%s failed: %s", logical_id, exc)
        return InvokeOutcome(error=exc.payload)
    if fault and fault.mode == "error-after":
        return InvokeOutcome(
            error={"errorType": "Runtime.ExitError", "errorMessage": "the function crashed after its handler ran"}
        )
    if len(json.dumps(result, default=str).encode()) > MAX_RESPONSE_BYTES:
        logger.warning("%s answered more than Lambda returns (%d bytes)", logical_id, MAX_RESPONSE_BYTES)
        return InvokeOutcome(error=dict(RESPONSE_TOO_LARGE))
    return InvokeOutcome(result=result)


class LambdaInvokeServer:
    """``POST /2015-03-31/functions/{name}/invocations``, the part of the Lambda API that
    Step Functions' ``lambda:invoke`` uses (moto sends it to AWS_ENDPOINT_URL_LAMBDA).

    Tests switch faults with ``POST /faults`` ``{"function", "mode", "count", "latencyMs"}``
    (see InvokeFault; the fields and ``"mode": "none"`` as the simulated provider reads them,
    campaign_local.faults), read them with ``GET /faults`` and clear them with ``DELETE /faults``.
    The same API switches DynamoDB transaction faults: ``{"table", "mode", "count"}`` with
    ``table`` the template's logical id (or the table's name) and ``mode``
    ``transaction-conflict`` or ``throttle`` (see moto_patches.TransactionFaults).
    """

    def __init__(
        self,
        functions: LocalFunctions,
        host: str = "127.0.0.1",
        port: int = 0,
        aws_requests: AwsRequestCounter | None = None,
        faults: InvokeFaults | None = None,
        transaction_faults: TransactionFaults | None = None,
    ) -> None:
        self.functions = functions
        self.faults = faults or InvokeFaults()
        self._aws_requests = aws_requests
        self._transaction_faults = transaction_faults
        # Logical id -> table name, once the engine has created the tables.
        self._tables: dict[str, str] = {}
        self._server = WsgiServer(self.respond, host, port, name="lambda-invoke")

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> LambdaInvokeServer:
        self._server.start()
        return self

    def set_tables(self, tables: dict[str, str]) -> None:
        """The template's tables (logical id -> name), for table faults."""
        self._tables = dict(tables)

    def stop(self) -> None:
        self._server.stop()

    def respond(self, request: Request) -> Response:
        if request.path == "/stats" and request.method == "GET":
            return _reply(200, self.stats())
        if request.path == "/faults":
            return self._faults_api(request)
        if request.method == "POST" and request.path.startswith(_INVOKE_PATH) and request.path.endswith("/invocations"):
            return self._invoke(request)
        return _reply(404, {"message": "not found"})

    def _faults_api(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.clear()
            if self._transaction_faults is not None:
                self._transaction_faults.clear()
        elif request.method == "POST":
            try:
                self._set_fault(json.loads(request.get_data() or b"{}"))
            except ValueError as exc:
                return _reply(400, {"message": f"bad fault: {exc}"})
        elif request.method != "GET":
            return _reply(404, {"message": "not found"})
        return _reply(200, self._all_faults())

    def _set_fault(self, spec: Any) -> None:
        """Raises ValueError (with the reason) for a fault that cannot be set."""
        if isinstance(spec, dict) and "table" in spec:
            return self._set_table_fault(spec)
        asked = parse_fault(spec, INVOKE_FAULT_MODES, latency_aliases=("afterMs",))
        function = spec.get("function")
        if function is None and asked.clears:
            self.faults.clear()
            if self._transaction_faults is not None:
                self._transaction_faults.clear()
            return None
        if function not in self.functions.names:
            raise ValueError(f"function must be one of {sorted(self.functions.names)}")
        if asked.clears:
            return self.faults.clear(function)
        self.faults.set(InvokeFault(function, asked.mode, asked.count, asked.latency_ms or 0))
        return None

    def _set_table_fault(self, spec: dict[str, Any]) -> None:
        if self._transaction_faults is None:
            raise ValueError("this endpoint has no DynamoDB to fault")
        table = str(spec["table"])
        name = self._tables.get(table) or (table if table in self._tables.values() else None)
        if name is None:
            raise ValueError(f"table must be one of {sorted(self._tables)}")
        asked = parse_fault(spec, TRANSACTION_FAULT_REASONS)
        if asked.clears:
            self._transaction_faults.clear(name)
        else:
            self._transaction_faults.set(name, asked.mode, asked.count)

    def _all_faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = list(self.faults.listed())
        if self._transaction_faults is not None:
            logical = {name: lid for lid, name in self._tables.items()}
            faults += [
                {"table": logical.get(f.table, f.table), "tableName": f.table, "mode": f.mode, "count": f.remaining}
                for f in self._transaction_faults.active()
            ]
        return faults

    def stats(self) -> dict[str, Any]:
        """Invocations per function and the handlers' AWS requests per operation, so far."""
        invocations = Counter(name for name, _ in list(self.functions.invocations))
        return {
            "invocations": dict(invocations),
            "durationMs": dict(self.functions.duration_ms),
            "awsRequests": self._aws_requests.snapshot() if self._aws_requests else {},
            "awsRequestsByFunction": self._aws_requests.by_function() if self._aws_requests else {},
        }

    def _invoke(self, request: Request) -> Response:
        name = unquote(request.path[len(_INVOKE_PATH) : -len("/invocations")])
        logical_id = name.split(":function:", 1)[-1].split(":", 1)[0]
        if logical_id not in self.functions.names:
            return _reply(
                404,
                {"Type": "User", "message": f"Function not found: {name}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
        try:
            event = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _reply(
                400, {"message": "payload is not JSON"}, {"x-amzn-ErrorType": "InvalidRequestContentException"}
            )
        outcome = invoke_with_faults(self.functions, self.faults, logical_id, event)
        assert outcome is not None  # waited for the end
        if outcome.throttled:
            return _reply(
                429, {"Type": "User", "message": "Rate Exceeded."}, {"x-amzn-ErrorType": "TooManyRequestsException"}
            )
        if outcome.error is not None:
            # A synchronous Invoke answers 200 with the error as the payload.
            return _reply(200, outcome.error, {"X-Amz-Function-Error": "Unhandled"})
        return _reply(200, outcome.result)


def _reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, content_type="application/json")
    response.headers["X-Amz-Executed-Version"] = "$LATEST"
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())  # Lambda always sends one
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
