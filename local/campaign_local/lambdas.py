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
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from campaign_local.moto_patches import TRANSACTION_FAULT_REASONS, TransactionFaults
from campaign_local.stats import AwsRequestCounter, current_function
from campaign_local.template import FunctionSpec, function_arn

logger = logging.getLogger(__name__)

_INVOKE_PATH = "/2015-03-31/functions/"


@dataclass
class LambdaContext:
    """What the Lambda runtime hands a handler; Powertools reads these fields."""

    function_name: str
    timeout_seconds: int
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


class LocalFunctions:
    """The template's functions, each loaded once from its own folder like a Lambda container."""

    def __init__(self, specs: dict[str, FunctionSpec]) -> None:
        self._specs = specs
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.Lock()
        self.invocations: list[tuple[str, float]] = []

    @property
    def names(self) -> list[str]:
        return list(self._specs)

    def handler(self, logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
        with self._lock:
            module = self._modules.get(logical_id)
            if module is None:
                module = self._modules[logical_id] = load_handler_module(self._specs[logical_id])
        return getattr(module, self._specs[logical_id].handler_name)

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        spec = self._specs[logical_id]
        handler = self.handler(logical_id)
        self.invocations.append((logical_id, time.time()))
        token = current_function.set(logical_id)
        try:
            return handler(event, LambdaContext(function_name=logical_id, timeout_seconds=spec.timeout_seconds))
        except Exception as exc:  # reported to the caller like Lambda's "Unhandled" error
            raise FunctionError(type(exc).__name__, str(exc), traceback.format_exception(exc)) from exc
        finally:
            current_function.reset(token)


def load_handler_module(spec: FunctionSpec) -> ModuleType:
    """Import a function's handler file under a name of its own (every folder has an app.py)."""
    module_name = f"local_lambda_{spec.logical_id}"
    module_spec = importlib.util.spec_from_file_location(module_name, spec.handler_file)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {spec.handler_file}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


INVOKE_FAULT_MODES = frozenset({"throttle", "error-after", "timeout", "delay"})


@dataclass
class InvokeFault:
    """A fault for the next ``remaining`` invocations of one function (None: until cleared).

    - throttle: Lambda refuses the invocation (429 TooManyRequestsException); the handler never runs.
    - error-after: the handler runs to the end, then the invocation reports a crash.
    - timeout: the invocation reports Sandbox.Timedout after ``after_ms`` while the handler
      is still running (it goes on in the background, like a container that is not frozen
      in time: its late writes must be harmless).
    - delay: the handler starts ``after_ms`` late (a slow cold start).
    """

    function: str
    mode: str
    remaining: int | None = 1
    after_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "mode": self.mode, "count": self.remaining, "afterMs": self.after_ms}


class LambdaInvokeServer:
    """``POST /2015-03-31/functions/{name}/invocations``, the part of the Lambda API that
    Step Functions' ``lambda:invoke`` uses (moto sends it to AWS_ENDPOINT_URL_LAMBDA).

    Tests switch faults with ``POST /faults`` ``{"function", "mode", "count", "afterMs"}``
    (see InvokeFault), read them with ``GET /faults`` and clear them with ``DELETE /faults``.
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
        transaction_faults: TransactionFaults | None = None,
    ) -> None:
        self.functions = functions
        self._aws_requests = aws_requests
        self._transaction_faults = transaction_faults
        # Logical id -> table name, once the engine has created the tables.
        self._tables: dict[str, str] = {}
        self._faults: dict[str, InvokeFault] = {}
        self._faults_lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                outer._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                outer._faults_api(self)

            def do_DELETE(self) -> None:  # noqa: N802
                outer._faults_api(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambda-invoke", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LambdaInvokeServer:
        self._thread.start()
        return self

    def set_tables(self, tables: dict[str, str]) -> None:
        """The template's tables (logical id -> name), for table faults."""
        self._tables = dict(tables)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _faults_api(self, request: BaseHTTPRequestHandler, raw: bytes = b"") -> None:
        path = request.path.split("?", 1)[0]
        if path == "/stats" and request.command == "GET":
            return _reply(request, 200, self.stats())
        if path != "/faults":
            return _reply(request, 404, {"message": "not found"})
        with self._faults_lock:
            if request.command == "DELETE":
                self._faults.clear()
                if self._transaction_faults is not None:
                    self._transaction_faults.clear()
            elif request.command == "POST":
                try:
                    spec = json.loads(raw or b"{}")
                    if isinstance(spec, dict) and "table" in spec:
                        self._set_table_fault(spec)
                        return _reply(request, 200, self._all_faults())
                    fault = InvokeFault(
                        function=str(spec["function"]),
                        mode=str(spec["mode"]),
                        remaining=None if spec.get("count", 1) is None else int(spec.get("count", 1)),
                        after_ms=int(spec.get("afterMs", 0)),
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    return _reply(request, 400, {"message": f"bad fault: {exc}"})
                if fault.mode not in INVOKE_FAULT_MODES or fault.function not in self.functions.names:
                    return _reply(request, 400, {"message": f"mode must be one of {sorted(INVOKE_FAULT_MODES)}"})
                self._faults[fault.function] = fault
            return _reply(request, 200, self._all_faults())

    def _set_table_fault(self, spec: dict[str, Any]) -> None:
        """Raises ValueError, KeyError or TypeError for a fault that cannot be set."""
        if self._transaction_faults is None:
            raise ValueError("this endpoint has no DynamoDB to fault")
        table = str(spec["table"])
        name = self._tables.get(table) or (table if table in self._tables.values() else None)
        if name is None:
            raise ValueError(f"table must be one of {sorted(self._tables)}")
        count = spec.get("count", 1)
        mode = str(spec["mode"])
        if mode not in TRANSACTION_FAULT_REASONS:
            raise ValueError(f"mode must be one of {sorted(TRANSACTION_FAULT_REASONS)}")
        self._transaction_faults.set(name, mode, None if count is None else int(count))

    def _all_faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = [f.to_json() for f in self._faults.values()]
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
            "awsRequests": self._aws_requests.snapshot() if self._aws_requests else {},
            "awsRequestsByFunction": self._aws_requests.by_function() if self._aws_requests else {},
        }

    def _take_fault(self, logical_id: str) -> InvokeFault | None:
        with self._faults_lock:
            fault = self._faults.get(logical_id)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[logical_id]
            return fault

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        path = request.path.split("?", 1)[0]
        if path == "/faults":
            return self._faults_api(request, raw)
        if not (path.startswith(_INVOKE_PATH) and path.endswith("/invocations")):
            return _reply(request, 404, {"message": "not found"})
        name = unquote(path[len(_INVOKE_PATH) : -len("/invocations")])
        logical_id = name.split(":function:", 1)[-1].split(":", 1)[0]
        if logical_id not in self.functions.names:
            return _reply(
                request,
                404,
                {"Type": "User", "message": f"Function not found: {name}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
        try:
            event = json.loads(raw or b"{}")
        except ValueError:
            return _reply(
                request, 400, {"message": "payload is not JSON"}, {"x-amzn-ErrorType": "InvalidRequestContentException"}
            )
        fault = self._take_fault(logical_id)
        if fault and fault.mode == "throttle":
            return _reply(
                request,
                429,
                {"Type": "User", "message": "Rate Exceeded."},
                {"x-amzn-ErrorType": "TooManyRequestsException"},
            )
        if fault and fault.mode == "delay":
            time.sleep(fault.after_ms / 1000)
        if fault and fault.mode == "timeout":
            return self._invoke_and_time_out(request, logical_id, event, fault.after_ms)
        try:
            result = self.functions.invoke(logical_id, event)
        except FunctionError as exc:
            logger.warning("%s failed: %s", logical_id, exc)
            return _reply(request, 200, exc.payload, {"X-Amz-Function-Error": "Unhandled"})
        if fault and fault.mode == "error-after":
            crash = {"errorType": "Runtime.ExitError", "errorMessage": "the function crashed after its handler ran"}
            return _reply(request, 200, crash, {"X-Amz-Function-Error": "Unhandled"})
        return _reply(request, 200, result)

    def _invoke_and_time_out(
        self, request: BaseHTTPRequestHandler, logical_id: str, event: dict[str, Any], after_ms: int
    ) -> None:
        def run() -> None:
            try:
                self.functions.invoke(logical_id, event)
            except FunctionError as exc:
                logger.warning("%s (reported timed out) failed: %s", logical_id, exc)

        threading.Thread(target=run, name=f"timed-out-{logical_id}", daemon=True).start()
        time.sleep(after_ms / 1000)
        timed_out = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"Task timed out after {after_ms / 1000:.2f} seconds",
        }
        _reply(request, 200, timed_out, {"X-Amz-Function-Error": "Unhandled"})


def _reply(request: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.send_header("X-Amz-Executed-Version", "$LATEST")
    request.send_header("x-amzn-RequestId", str(uuid.uuid4()))  # Lambda always sends one
    for key, value in (headers or {}).items():
        request.send_header(key, value)
    request.end_headers()
    request.wfile.write(data)
