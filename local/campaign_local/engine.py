"""The whole service on one machine: the HTTP API, the handlers, moto running the real
state machine, the Lambda Invoke endpoint it calls, and a simulated telephony provider."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from campaign_local.auth import JwtVerifier, LocalIdentityProvider, key_file_from_env, load_or_create_signing_key
from campaign_local.aws import LocalAws, create_parameters, create_resources, create_state_machines
from campaign_local.console import LocalConsole, console_dir, console_headers
from campaign_local.cors import CorsPolicy
from campaign_local.http_api import LocalHttpApi, api_prefix
from campaign_local.lambdas import InvokeFaults, LambdaInvokeServer, LocalFunctions
from campaign_local.moto_patches import TRANSACTION_FAULTS
from campaign_local.persistence import (
    DEFAULT_STATE_DIR,
    SNAPSHOT_FILE,
    PeriodicSnapshots,
    TableSnapshots,
    snapshot_seconds_from_env,
)
from campaign_local.sim_dialer import SimDialer, SimDialerConfig
from campaign_local.stats import AwsRequestCounter
from campaign_local.template import Resolver, Template, find_template
from campaign_local.watcher import ExecutionWatcher, sweep_seconds_from_env

logger = logging.getLogger(__name__)

# Settings of the local run that are not in template.yaml (it describes AWS, not a laptop).
LOCAL_FUNCTION_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


@dataclass
class EngineConfig:
    host: str = "127.0.0.1"
    api_port: int = 3000
    aws_port: int = 4566
    dialer_port: int = 8081
    lambda_port: int = 0  # the Lambda Invoke endpoint; any free port unless LAMBDA_PORT says
    dialer: SimDialerConfig = field(default_factory=SimDialerConfig)
    template_path: Path | None = None
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    # Function Timeouts for this run instead of the template's, so tests of timeouts are quick.
    function_timeouts: dict[str, float] = field(default_factory=dict)
    # Every Retry of the state machine waits 1 s between attempts (LOCAL_RETRY_INTERVALS=fast),
    # so that a test can use up a task's retries in seconds rather than minutes.
    fast_retries: bool = False
    # Where the tables are kept across restarts (LOCAL_STATE_DIR; None: <repo>/.local, which the
    # e2e tests never use: the harness gives each engine a folder of its own), how
    # often they are saved while running, and whether to start empty (`make run RESET=1`).
    state_dir: Path | None = None
    snapshot_seconds: float = 30.0
    reset: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> EngineConfig:
        env = dict(os.environ if environ is None else environ)
        return cls(
            api_port=int(env.get("PORT", "3000")),
            aws_port=int(env.get("AWS_PORT", "4566")),
            dialer_port=int(env.get("DIALER_PORT", "8081")),
            lambda_port=int(env.get("LAMBDA_PORT", "0")),
            dialer=SimDialerConfig.from_env(env),
            parameter_overrides=parse_overrides(env.get("LOCAL_PARAMETER_OVERRIDES", "")),
            function_timeouts=parse_function_timeouts(env.get("LOCAL_FUNCTION_TIMEOUTS", "")),
            fast_retries=parse_retry_intervals(env.get("LOCAL_RETRY_INTERVALS", "")),
            state_dir=Path(env["LOCAL_STATE_DIR"]) if env.get("LOCAL_STATE_DIR") else None,
            snapshot_seconds=snapshot_seconds_from_env(env),
        )


def parse_overrides(text: str) -> dict[str, str]:
    """``Name=value Name2=value2``, as ``sam deploy --parameter-overrides`` takes them."""
    overrides = {}
    for pair in text.split():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"parameter override {pair!r} is not Name=value")
        overrides[name] = value
    return overrides


def parse_retry_intervals(text: str) -> bool:
    """``LOCAL_RETRY_INTERVALS``: ``fast`` (1 s between attempts) or ``template`` (default)."""
    value = text.strip().lower() or "template"
    if value not in ("fast", "template"):
        raise ValueError(f"LOCAL_RETRY_INTERVALS must be 'fast' or 'template', not {text!r}")
    return value == "fast"


def parse_function_timeouts(text: str) -> dict[str, float]:
    """``MakeCallFunction=3 DialContactFunction=5``: whole seconds, as Lambda's Timeout."""
    timeouts = {}
    for name, value in parse_overrides(text).items():
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"timeout of {name} must be whole seconds (at least 1), not {value!r}")
        timeouts[name] = float(value)
    return timeouts


class LocalEngine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.template = Template(config.template_path or find_template())
        self.dialer_api_key = config.dialer.api_key or secrets.token_urlsafe(24)
        self.dialer: SimDialer | None = None
        self.aws: LocalAws | None = None
        self.functions: LocalFunctions | None = None
        self.lambda_server: LambdaInvokeServer | None = None
        self.api: LocalHttpApi | None = None
        self.state_machine_arns: dict[str, str] = {}
        self.identity: LocalIdentityProvider | None = None
        self.aws_requests = AwsRequestCounter()
        self.watcher: ExecutionWatcher | None = None
        self.snapshots: PeriodicSnapshots | None = None
        self.state_file = (config.state_dir or self.template.root / DEFAULT_STATE_DIR) / SNAPSHOT_FILE
        # Items put back per table on start (empty: nothing was kept, or reset).
        self.restored: dict[str, int] = {}

    def start(self) -> LocalEngine:
        cfg = self.config
        # Every simulator setting from the environment (SIM_*), with the generic key fixed here.
        dialer_config = dataclasses.replace(cfg.dialer, api_key=self.dialer_api_key)
        self.dialer = SimDialer(dialer_config, host=cfg.host, port=cfg.dialer_port).start()

        self.functions = LocalFunctions(self.template.functions(), cfg.function_timeouts)
        # One set of faults for both ways in: API Gateway invokes Lambda like Step Functions does.
        faults = InvokeFaults()
        self.lambda_server = LambdaInvokeServer(
            self.functions,
            host=cfg.host,
            port=cfg.lambda_port,
            aws_requests=self.aws_requests,
            faults=faults,
            transaction_faults=TRANSACTION_FAULTS,
        ).start()
        # moto's Step Functions invokes Lambda through this endpoint; it must be set
        # before moto creates its Lambda client.
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = self.lambda_server.url

        self.aws = LocalAws(host=cfg.host, port=cfg.aws_port).start()
        # After moto started: it replaces boto3's default session, which the handlers use.
        self.aws_requests.install()
        secret_ids = list(self.template.secrets())
        document = deployment_credentials(self.dialer.default_credentials())
        physical = create_resources(self.template, secret_values=dict.fromkeys(secret_ids, document))
        tables = {lid: physical[lid] for lid in self.template.tables()}
        self.lambda_server.set_tables(tables)
        # Before anything can write: the previous run's items, unless starting empty.
        snapshots = TableSnapshots(self.state_file, tables)
        if cfg.reset:
            TableSnapshots.reset(self.state_file)
        else:
            self.restored = snapshots.restore()
        resolver = Resolver(
            self.template,
            parameters={**simulator_base_urls(self.dialer), **cfg.parameter_overrides},
            physical_ids=physical,
        )
        resolver.check_rules()
        self.state_machine_arns = create_state_machines(self.template, resolver, fast_retries=cfg.fast_retries)
        os.environ.update(function_environment(self.template, resolver))
        os.environ.update(LOCAL_FUNCTION_ENV)
        # No EventBridge in moto: this delivers execution ends and schedules to the functions.
        self.watcher = ExecutionWatcher(
            self.functions,
            self.template,
            list(self.state_machine_arns.values()),
            sweep_seconds=sweep_seconds_from_env(),
        ).start()

        self.identity = local_identity_provider(self.template, resolver)
        verifiers = {
            name: JwtVerifier(self.identity.jwks(), issuer=self.identity.issuer, audiences=[self.identity.audience])
            for api in self.template.of_type("AWS::Serverless::HttpApi")
            for name in self.template.http_api_auth(api).get("Authorizers", {})
        }
        self.api = LocalHttpApi(
            self.template.routes(),
            self.functions,
            verifiers,
            host=cfg.host,
            port=cfg.api_port,
            cors=cors_policy(self.template, resolver),
            faults=faults,
            console=LocalConsole(
                console_dir(self.template.path),
                api_prefix=api_prefix(self.template.routes()),
                issue_token=self.identity.issue,
                headers=console_headers(self.template),
            ),
        ).start()
        # The webhook base URL is the local API's, as in AWS it is the HTTP API's.
        create_parameters(
            self.template,
            resolver.with_api_urls(dict.fromkeys(self.template.of_type("AWS::Serverless::HttpApi"), self.api.url)),
        )
        self.snapshots = PeriodicSnapshots(snapshots, cfg.snapshot_seconds).start()
        return self

    def stop(self) -> None:
        LocalAws.quiet_executions()
        # The tables are saved once nothing runs handlers any more, before moto goes.
        for part in (self.watcher, self.api, self.lambda_server, self.snapshots, self.aws, self.dialer):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # shutting down: keep stopping the rest
                    logger.exception("error while stopping %s", type(part).__name__)


def simulator_base_urls(dialer: SimDialer) -> dict[str, str]:
    """Every provider's base URL on the simulated provider: one process, a path family per
    dialect (generic at its root)."""
    return {
        "DialerBaseUrl": dialer.base_url("generic"),
        "TwilioBaseUrl": dialer.base_url("twilio"),
        "VapiBaseUrl": dialer.base_url("vapi"),
        "RetellBaseUrl": dialer.base_url("retell"),
        # What a deployment defaults for twilio agents (the simulated provider does not fetch it).
        "TwilioTwimlUrl": f"{dialer.base_url('twilio')}/twiml",
    }


def deployment_credentials(default_accounts: Mapping[str, Mapping[str, str]]) -> str:
    """The deployment's provider credentials secret, locally: the simulated provider's default
    accounts, which own every agent id and number they are asked about, allowed for every
    client, so that local use needs no setup."""
    return json.dumps({**default_accounts, "allowList": {"*": {"agents": "*", "numbers": "*"}}})


def local_identity_provider(template: Template, resolver: Resolver) -> LocalIdentityProvider:
    """The local issuer: its key on disk (shared with `make token`), tokens carrying the
    client id in the claim the template's TenantClaim parameter names."""
    key = load_or_create_signing_key(key_file_from_env(template.root))
    tenant_claim = resolver.ref("TenantClaim") if "TenantClaim" in template.parameters else "sub"
    return LocalIdentityProvider(key, tenant_claim=tenant_claim)


def cors_policy(template: Template, resolver: Resolver) -> CorsPolicy | None:
    """The CORS of the template's HTTP API. The local engine serves every route on one port,
    so all HTTP APIs must agree on it."""
    policies = {
        CorsPolicy.from_configuration(resolver.resolve(template.http_api_cors(api)))
        for api in template.of_type("AWS::Serverless::HttpApi")
    }
    if len(policies) > 1:
        raise ValueError("the HTTP APIs have different CORS configurations; the local engine serves them as one")
    return policies.pop() if policies else None


def function_environment(template: Template, resolver: Resolver) -> dict[str, str]:
    """Every function's environment, resolved. All handlers share this process, so one
    variable must mean the same for every function that has it."""
    merged: dict[str, str] = {}
    for spec in template.functions().values():
        for key, value in resolver.resolve(spec.environment).items():
            value = str(value)
            if merged.setdefault(key, value) != value:
                raise ValueError(f"{key} differs between functions; the local engine runs them in one process")
    return merged
