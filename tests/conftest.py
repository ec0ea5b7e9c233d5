"""Shared fixtures. Tables, environment and handlers all come from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from campaign_calling import settings as app_settings
from campaign_calling import wiring
from campaign_calling.calls.providers.accounts import read_deployment_secret
from campaign_local import moto_patches
from campaign_local.aws import LOCAL_AWS_ENV, create_parameters, create_resources, create_state_machines
from campaign_local.engine import deployment_credentials, simulator_base_urls
from campaign_local.lambdas import LocalFunctions
from campaign_local.sim_dialer import SimDialer, SimDialerConfig
from campaign_local.template import Resolver, Template, find_template
from tests.support.fakes_accounts import FakeDirectory
from tests.support.wired import API_URL

ROOT = Path(__file__).resolve().parents[1]
TEST_API_KEY = "sk-test-provider-key-do-not-log-0123456789"


@pytest.fixture(scope="session")
def template() -> Template:
    return Template(find_template(ROOT))


@dataclass
class AwsWorld:
    """moto with the template's tables, secret and state machine; each function's own
    environment (as template.yaml gives it) is applied by ``use_function``."""

    template: Template
    resolver: Resolver
    functions: LocalFunctions
    dialer: SimDialer
    monkeypatch: pytest.MonkeyPatch
    # What the providers' accounts own, as the handlers ask it (a fake: see ``aws``).
    directory: FakeDirectory

    def use_function(self, logical_id: str) -> None:
        env = self.resolver.resolve(self.template.functions()[logical_id].environment)
        for key in set().union(*(app_settings.variable_names(piece) for piece in app_settings.PIECES)):
            self.monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            self.monkeypatch.setenv(key, str(value))
        self.monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        self.monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        wiring.forget_services()

    def invoke(self, logical_id: str, event: dict) -> dict:
        """Run one handler with only its own environment, like its Lambda would."""
        self.use_function(logical_id)
        return self.functions.invoke(logical_id, event)

    def table(self, logical_id: str):
        return boto3.resource("dynamodb").Table(self.resolver.ref(logical_id))


@pytest.fixture
def sim_dialer() -> Iterator[SimDialer]:
    dialer = SimDialer(SimDialerConfig(api_key=TEST_API_KEY)).start()
    yield dialer
    dialer.stop()


@pytest.fixture
def moto_patched() -> Iterator[moto_patches.TransactionFaults]:
    """moto as the local engine runs it (campaign_local.moto_patches), applied for this test
    only and removed after it, so no test gets the moto an earlier one left behind. Yields the
    switch that cancels transactions as AWS does (no fault set before or after the test)."""
    with moto_patches.patched() as faults:
        yield faults


@pytest.fixture
def aws(
    template: Template,
    sim_dialer: SimDialer,
    moto_patched: moto_patches.TransactionFaults,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[AwsWorld]:
    for key, value in LOCAL_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_LAMBDA", raising=False)
    # Unit tests do not execute the state machine: starting a run only records the execution.
    with mock_aws():
        # The deployment's provider credentials as the local engine seeds them.
        document = deployment_credentials(sim_dialer.default_credentials())
        physical = create_resources(template, secret_values=dict.fromkeys(template.secrets(), document))
        # What accounts own, as a fake the tests set up (an unreachable provider included);
        # the end-to-end tests ask the simulated provider itself.
        directory = FakeDirectory()
        directory.own("generic", read_deployment_secret(document).credentials["generic"], everything=True)
        monkeypatch.setattr(wiring, "provider_directory", lambda: directory)
        resolver = Resolver(template, parameters=simulator_base_urls(sim_dialer), physical_ids=physical)
        create_state_machines(template, resolver)
        apis = dict.fromkeys(template.of_type("AWS::Serverless::HttpApi"), API_URL)
        create_parameters(template, resolver.with_api_urls(apis))
        wiring.forget_services()
        yield AwsWorld(template, resolver, LocalFunctions(template.functions()), sim_dialer, monkeypatch, directory)
    wiring.forget_services()
