"""Whose agent, whose number: an agent's provider ids are checked when it is created.

The agent calls with the client's own account of its provider when the client connected one,
else with the deployment's default account. Either way the provider's API must say that this
account owns the agent id and the callerId; on the shared default account the operator's
allow-list (in the deployment's secret) must also give them to this client, since one
default account serves every client. Nothing is stored unless every check passes; a provider
that cannot answer is a 503 (try again), never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from campaign_calling.calls.providers.accounts import Credentials, CredentialsError, DeploymentAccounts
from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.calls.providers.directory import CredentialsRefused, DirectoryUnavailable, ProviderDirectory
from campaign_calling.errors import DependencyUnavailable, InvalidRequest, NotOwned
from campaign_calling.models import Account, AgentInput


class Accounts(Protocol):
    """The accounts an agent may call with (calls.providers.accounts.ProviderAccounts)."""

    def account_for(self, provider: Dialect, client_id: str) -> Account | None: ...

    def account_credentials(self, provider: Dialect, client_id: str, account: Account) -> Credentials | None: ...

    def deployment(self) -> DeploymentAccounts: ...


@dataclass(frozen=True)
class CheckedAgent:
    account: Account
    # Vapi calls from a number by its id: the callerId's id on the account.
    phone_number_id: str | None = None


class AgentOwnership:
    def __init__(self, accounts: Accounts, directory: ProviderDirectory, *, twiml_url_default: bool = False) -> None:
        self._accounts = accounts
        self._directory = directory
        # Whether the deployment gives Twilio calls a TwiML URL (TwilioTwimlUrl): without one,
        # a twilio agent must bring its own, or none of its calls could be placed.
        self._twiml_url_default = twiml_url_default

    def check(self, client_id: str, agent: AgentInput) -> CheckedAgent:
        try:
            return self._check(client_id, agent)
        except CredentialsError as exc:
            # A deployment document or a stored account that cannot be read: the operator's to
            # fix (its message names fields, never values).
            raise DependencyUnavailable(f"provider credentials cannot be used: {exc}") from None

    def _check(self, client_id: str, agent: AgentInput) -> CheckedAgent:
        provider = agent.provider
        if provider == "twilio" and not (agent.twimlUrl or self._twiml_url_default):
            raise InvalidRequest("twimlUrl is required for a twilio agent: this deployment sets no TwiML URL")
        account = self._accounts.account_for(provider, client_id)
        if account is None:
            raise InvalidRequest(
                f"no {provider} account to call with: connect yours with PUT /api/v1/client/providers/{provider}"
            )
        whose = f"your {provider} account" if account == "client" else f"this deployment's default {provider} account"
        if account == "default":
            self._check_allow_list(client_id, agent, whose)
        credentials = self._accounts.account_credentials(provider, client_id, account)
        if credentials is None:  # the secret went away between the two reads
            raise DependencyUnavailable(f"{whose} could not be read; try again")
        try:
            owned = self._directory.owns_agent(provider, credentials, agent.providerAgentId)
            if owned is False:
                raise NotOwned(f"providerAgentId '{agent.providerAgentId}' is not an agent of {whose}")
            # owned None: Twilio has no agents; its From number below is what it owns.
            phone_number_id = None
            if agent.callerId:
                numbers = self._directory.owned_numbers(provider, credentials, agent.callerId)
                if not numbers:
                    raise NotOwned(f"callerId {agent.callerId} is not a number of {whose}")
                phone_number_id = self._phone_number_id(provider, agent, [n.provider_id for n in numbers], whose)
        except CredentialsRefused:
            if account == "client":
                raise InvalidRequest(
                    f"{provider} refused the credentials of your account: connect it again with "
                    f"PUT /api/v1/client/providers/{provider}"
                ) from None
            raise DependencyUnavailable(f"{provider} refused the credentials of {whose}") from None
        except DirectoryUnavailable:
            raise DependencyUnavailable(
                f"{provider} could not say whether {whose} owns this agent and number; nothing was stored, try again"
            ) from None
        return CheckedAgent(account, phone_number_id)

    def _check_allow_list(self, client_id: str, agent: AgentInput, whose: str) -> None:
        allowed = self._accounts.deployment().allowed(client_id)
        if allowed.agents != "*" and agent.providerAgentId not in allowed.agents:
            raise NotOwned(
                f"providerAgentId '{agent.providerAgentId}' is not on the operator's allow-list for your client "
                f"on {whose}; connect your own account with PUT /api/v1/client/providers/{agent.provider}"
            )
        if agent.callerId and allowed.numbers != "*" and agent.callerId not in allowed.numbers:
            raise NotOwned(
                f"callerId {agent.callerId} is not on the operator's allow-list for your client on {whose}; "
                f"connect your own account with PUT /api/v1/client/providers/{agent.provider}"
            )

    @staticmethod
    def _phone_number_id(provider: Dialect, agent: AgentInput, ids: list[str | None], whose: str) -> str | None:
        if provider != "vapi":
            return None
        known = [i for i in ids if i]
        if agent.phoneNumberId:
            if agent.phoneNumberId not in known:
                raise NotOwned(f"phoneNumberId '{agent.phoneNumberId}' is not callerId's number on {whose}")
            return agent.phoneNumberId
        if not known:
            raise DependencyUnavailable(f"vapi listed callerId on {whose} without its id; try again")
        return known[0]
