"""In-memory stand-ins for provider accounts: the secrets they live in, and the providers'
directories of what each account owns, keeping the promises of the real ones (an absent
secret reads None; a directory answers per account, refuses unknown credentials, and can be
made unreachable)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from campaign_calling.calls.providers.accounts import (
    ClientAccounts,
    Credentials,
    DeploymentAccounts,
    GenericCredentials,
    ProviderAccounts,
    read_deployment_secret,
)
from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.calls.providers.directory import CredentialsRefused, DirectoryUnavailable, OwnedNumber
from campaign_calling.catalog.ownership import AgentOwnership
from campaign_calling.models import Account

SECRET_PREFIX = "campaign-calling-test/provider-accounts"
EVERYTHING_ALLOWED = {"*": {"agents": "*", "numbers": "*"}}


class InMemorySecrets:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.versions: dict[str, int] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def put(self, name: str, value: str, *, description: str) -> None:
        self.values[name] = value
        self.versions[name] = self.versions.get(name, 0) + 1


@dataclass
class OwnedByAccount:
    """What one provider account owns: agent ids and numbers (with the provider's id of each),
    or everything it is asked about (as the simulated provider's default account does)."""

    agents: set[str] = field(default_factory=set)
    numbers: dict[str, str | None] = field(default_factory=dict)
    everything: bool = False

    def owns_agent(self, agent_id: str) -> bool:
        return self.everything or agent_id in self.agents

    def number_id(self, number: str) -> tuple[bool, str | None]:
        if number in self.numbers:
            return True, self.numbers[number]
        return self.everything, (f"pn-{number.lstrip('+')}" if self.everything else None)


class FakeDirectory:
    """Providers' directories: each account (keyed by its credentials' mapping) owns what
    ``own`` gave it; unknown credentials are refused; ``unreachable`` makes every lookup fail
    as a provider that does not answer. Every lookup is recorded (provider, what)."""

    def __init__(self) -> None:
        self._accounts: dict[tuple[Dialect, str], OwnedByAccount] = {}
        self.unreachable = False
        self.lookups: list[tuple[Dialect, str]] = []

    def own(
        self,
        provider: Dialect,
        credentials: Credentials,
        *,
        agents: tuple[str, ...] = (),
        numbers: dict[str, str | None] | tuple[str, ...] = (),
        everything: bool = False,
    ) -> None:
        owned = self._accounts.setdefault((provider, _key(credentials)), OwnedByAccount())
        owned.everything = owned.everything or everything
        owned.agents.update(agents)
        owned.numbers.update(numbers if isinstance(numbers, dict) else dict.fromkeys(numbers))

    def _account(self, provider: Dialect, credentials: Credentials, what: str) -> OwnedByAccount:
        self.lookups.append((provider, what))
        if self.unreachable:
            raise DirectoryUnavailable(f"{provider} did not answer")
        owned = self._accounts.get((provider, _key(credentials)))
        if owned is None:
            raise CredentialsRefused(f"{provider} refused the credentials (401)")
        return owned

    def check_credentials(self, provider: Dialect, credentials: Credentials) -> None:
        self._account(provider, credentials, "credentials")

    def owns_agent(self, provider: Dialect, credentials: Credentials, agent_id: str) -> bool | None:
        owned = self._account(provider, credentials, "agent")
        return None if provider == "twilio" else owned.owns_agent(agent_id)

    def owned_numbers(self, provider: Dialect, credentials: Credentials, number: str) -> list[OwnedNumber]:
        owned = self._account(provider, credentials, "number")
        found, provider_id = owned.number_id(number)
        return [OwnedNumber(number, provider_id)] if found else []


def _key(credentials: Credentials) -> str:
    return json.dumps(credentials.as_mapping(), sort_keys=True)


def provider_accounts(
    deployment: dict[str, object] | str, secrets: InMemorySecrets | None = None
) -> tuple[ProviderAccounts, InMemorySecrets]:
    """ProviderAccounts over an in-memory deployment secret (a document, or a plain key) and
    clients' secrets."""
    secrets = secrets or InMemorySecrets()
    text = deployment if isinstance(deployment, str) else json.dumps(deployment)
    return ProviderAccounts(lambda: text, ClientAccounts(secrets, SECRET_PREFIX)), secrets


@dataclass
class StaticCredentials:
    """The dial path's credentials source with one account per (provider, account), read on
    every dial through ``source`` (so a test can rotate them)."""

    source: Callable[[Dialect, Account], Credentials | None]
    deployment_reads: int = 0

    @classmethod
    def generic(cls, api_key: Callable[[], str] | str) -> StaticCredentials:
        read = api_key if callable(api_key) else (lambda: api_key)
        return cls(lambda provider, account: GenericCredentials(apiKey=read()) if provider == "generic" else None)

    def account_credentials(self, provider: Dialect, client_id: str, account: Account) -> Credentials | None:
        return self.source(provider, account)

    def deployment(self) -> DeploymentAccounts:
        self.deployment_reads += 1
        return read_deployment_secret("{}")


# The deployment of the fakes: a generic default account that owns everything, allowed to all.
DEFAULT_GENERIC = GenericCredentials(apiKey="default-generic-key", webhookSecret="default-webhook-secret")


@dataclass
class FakeAccounts:
    """Provider accounts on fakes: the deployment's document, the clients' secrets and the
    providers' directories. By default the deployment has a generic account that owns every
    agent id and number, and every client may use it (the local engine's setup)."""

    deployment: dict[str, object] = field(
        default_factory=lambda: {"generic": DEFAULT_GENERIC.as_mapping(), "allowList": EVERYTHING_ALLOWED}
    )
    secrets: InMemorySecrets = field(default_factory=InMemorySecrets)
    directory: FakeDirectory = field(default_factory=FakeDirectory)

    def __post_init__(self) -> None:
        self.directory.own("generic", DEFAULT_GENERIC, everything=True)

    def accounts(self) -> ProviderAccounts:
        return provider_accounts(self.deployment, self.secrets)[0]

    # Whether the deployment sets a TwiML URL for twilio agents (TwilioTwimlUrl).
    twiml_url_default: bool = True

    def ownership(self) -> AgentOwnership:
        return AgentOwnership(self.accounts(), self.directory, twiml_url_default=self.twiml_url_default)

    def connect(self, client_id: str, provider: Dialect, credentials: Credentials) -> None:
        """The client's own account, as PUT /api/v1/client/providers/{provider} stores it."""
        ClientAccounts(self.secrets, SECRET_PREFIX).connect(provider, client_id, credentials)
