"""Provider accounts: whose credentials a call, an ownership check or a webhook uses.

One JSON shape per provider, everywhere (the deployment's secret, a client's own secret,
the simulated provider):

- generic: ``{"apiKey", "webhookSecret"}`` (webhookSecret signs our X-Signature webhooks)
- twilio:  ``{"accountSid", "authToken"}``
- vapi:    ``{"apiKey", "serverSecret"}`` (serverSecret: the x-vapi-secret value)
- retell:  ``{"apiKey"}`` (Retell signs its webhooks with the API key)

The deployment's secret (template.yaml's DialerApiKeySecret) holds one object with any of
those four keys plus ``allowList``: per client id (or ``"*"`` for every client), the agent
ids and numbers (E.164) that client may use on the shared default account, each a list or
``"*"``. A secret value that is not a JSON object is the generic apiKey, as before accounts.

A client's own account lives in a secret of its own per provider (credentials.py's
``client_provider_secret_name``, the one place that naming is decided),
written by PUT /api/v1/client/providers/{provider} and never read back by the API.

No value of a credential appears in a ``repr``, an error or a message: errors name fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from campaign_calling.calls.providers.credentials import client_provider_secret_name
from campaign_calling.calls.providers.dialect import DIALECTS, Dialect
from campaign_calling.models import Account
from campaign_calling.phone import to_e164

_MAX_CREDENTIAL = 4096


class Credentials(BaseModel):
    # hide_input_in_errors: a refused credential's value never reaches an error message.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, str_strip_whitespace=True)

    def as_mapping(self) -> dict[str, str]:
        return {key: value for key, value in self.model_dump().items() if value is not None}

    def __repr__(self) -> str:  # never the values
        return f"{type(self).__name__}(fields={sorted(self.as_mapping())})"

    __str__ = __repr__


def _secret() -> Any:
    """A credential field: a non-empty string, kept out of every repr."""
    return Field(min_length=1, max_length=_MAX_CREDENTIAL, repr=False)


class GenericCredentials(Credentials):
    apiKey: str = _secret()
    # Absent only in a legacy plain-text deployment secret (its webhooks cannot be verified).
    webhookSecret: str | None = Field(None, min_length=1, max_length=_MAX_CREDENTIAL, repr=False)


class TwilioCredentials(Credentials):
    # Twilio's account SIDs are AC + 32 hex digits; anything else cannot authenticate.
    accountSid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$", repr=False)
    authToken: str = _secret()


class VapiCredentials(Credentials):
    apiKey: str = _secret()
    serverSecret: str | None = Field(None, min_length=1, max_length=_MAX_CREDENTIAL, repr=False)


class RetellCredentials(Credentials):
    apiKey: str = _secret()


CREDENTIALS: dict[Dialect, type[Credentials]] = {
    "generic": GenericCredentials,
    "twilio": TwilioCredentials,
    "vapi": VapiCredentials,
    "retell": RetellCredentials,
}
# What a client's own account must give beyond the model's required fields: the secret that
# verifies its status webhooks (without it every webhook of its calls would be refused).
_REQUIRED_ON_CONNECT: dict[Dialect, tuple[str, ...]] = {"generic": ("webhookSecret",), "vapi": ("serverSecret",)}


class CredentialsError(ValueError):
    """Credentials that cannot be used: the message names the fields, never a value."""


def read_credentials(provider: Dialect, data: object, *, connecting: bool = False) -> Credentials:
    """``data`` as ``provider``'s credentials; CredentialsError naming every bad field.
    ``connecting``: a client's own account, which must also sign its webhooks."""
    if not isinstance(data, Mapping):
        raise CredentialsError(f"{provider} credentials must be a JSON object")
    try:
        credentials = CREDENTIALS[provider].model_validate(dict(data))
    except ValidationError as exc:
        raise CredentialsError(_describe(exc)) from None
    missing = [name for name in _REQUIRED_ON_CONNECT.get(provider, ()) if connecting and not getattr(credentials, name)]
    if missing:
        raise CredentialsError("; ".join(f"{name} is required" for name in missing))
    return credentials


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        field = ".".join(str(p) for p in err.get("loc", ())) or "credentials"
        kind = err.get("type", "")
        if kind == "missing":
            parts.append(f"{field} is required")
        elif kind == "extra_forbidden":
            parts.append(f"{field} is not a known field")
        elif kind == "string_pattern_mismatch" and field == "accountSid":
            parts.append("accountSid must be AC followed by 32 hexadecimal digits")
        elif kind == "string_type":
            parts.append(f"{field} must be a string")
        else:
            parts.append(f"{field} is not valid")  # pydantic's own words could quote the value
    return "; ".join(parts)


# -- the deployment's document ---------------------------------------------------------------


class AllowEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    agents: list[str] | Literal["*"] = Field(default_factory=list)
    numbers: list[str] | Literal["*"] = Field(default_factory=list)

    @field_validator("numbers")
    @classmethod
    def _e164(cls, numbers: list[str] | Literal["*"]) -> list[str] | Literal["*"]:
        # Compared with agents' callerIds, which are stored in E.164.
        return numbers if numbers == "*" else [to_e164(number) for number in numbers]


@dataclass(frozen=True)
class DeploymentAccounts:
    """What the deployment's secret says: the default account of each provider it has, and
    the operator's allow-list of what each client may use on those accounts."""

    credentials: Mapping[Dialect, Credentials]
    allow_list: Mapping[str, AllowEntry]

    def allowed(self, client_id: str) -> AllowEntry:
        """The client's own entry, else the entry for every client ("*"), else nothing."""
        return self.allow_list.get(client_id) or self.allow_list.get("*") or AllowEntry()


def read_deployment_secret(text: str) -> DeploymentAccounts:
    """The deployment secret's value; CredentialsError (fields named) when it is a JSON object
    that is not the documented document. Any other value is the generic apiKey."""
    try:
        document: Any = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return DeploymentAccounts({"generic": GenericCredentials(apiKey=text.strip())}, {})
    unknown = sorted(set(document) - set(DIALECTS) - {"allowList"})
    if unknown:
        raise CredentialsError(f"provider credentials secret: unknown keys {unknown}")
    found: dict[Dialect, Credentials] = {}
    for provider in DIALECTS:
        if provider in document:
            try:
                found[provider] = read_credentials(provider, document[provider])
            except CredentialsError as exc:
                raise CredentialsError(f"provider credentials secret, {provider}: {exc}") from None
    try:
        allow_list = {
            str(client): AllowEntry.model_validate(entry) for client, entry in (document.get("allowList") or {}).items()
        }
    except (ValidationError, AttributeError):
        raise CredentialsError(
            'provider credentials secret: allowList must map client ids (or "*") to {"agents", "numbers"}, '
            'each a list or "*"'
        ) from None
    return DeploymentAccounts(found, allow_list)


# -- a client's own accounts ------------------------------------------------------------------


class SecretStore(Protocol):
    """Secrets by name (in AWS, aws.secretsmanager.SecretStore)."""

    def get(self, name: str) -> str | None: ...  # None: no such secret

    def put(self, name: str, value: str, *, description: str) -> None: ...  # create or new version


class ClientAccounts:
    """The clients' own accounts, one secret per client and provider."""

    def __init__(self, secrets: SecretStore, prefix: str) -> None:
        self._secrets = secrets
        self._prefix = prefix

    def client_credentials(self, provider: Dialect, client_id: str) -> Credentials | None:
        text = self._secrets.get(client_provider_secret_name(self._prefix, client_id, provider))
        if text is None:
            return None
        try:
            return read_credentials(provider, json.loads(text))
        except (ValueError, CredentialsError):
            raise CredentialsError(f"the client's stored {provider} credentials cannot be read") from None

    def connect(self, provider: Dialect, client_id: str, credentials: Credentials) -> None:
        """Store ``client_id``'s own account (create, or a new version of, its secret)."""
        self._secrets.put(
            client_provider_secret_name(self._prefix, client_id, provider),
            json.dumps(credentials.as_mapping()),
            description=f"A client's own {provider} account (written by PUT /api/v1/client/providers/{provider})",
        )


class ProviderAccounts:
    """Resolves (client, provider, account) to credentials: a client's own secret, or the
    deployment's default account. Implements calls.status_updates.WebhookKeys."""

    def __init__(self, deployment_secret: Callable[[], str], clients: ClientAccounts) -> None:
        self._deployment_secret = deployment_secret
        self._clients = clients
        self._parsed: tuple[str, DeploymentAccounts] | None = None

    def deployment(self) -> DeploymentAccounts:
        text = self._deployment_secret()  # cached by its source, re-read once it may have rotated
        if self._parsed is None or self._parsed[0] != text:
            self._parsed = (text, read_deployment_secret(text))
        return self._parsed[1]

    def account_credentials(self, provider: Dialect, client_id: str, account: Account) -> Credentials | None:
        if account == "client":
            return self._clients.client_credentials(provider, client_id)
        return self.deployment().credentials.get(provider)

    def credentials(self, provider: Dialect, client_id: str, account: Account) -> Mapping[str, str] | None:
        found = self.account_credentials(provider, client_id, account)
        return found.as_mapping() if found is not None else None

    def account_for(self, provider: Dialect, client_id: str) -> Account | None:
        """The account a new agent of ``provider`` calls with: the client's own when it
        connected one, else the deployment's default, else None (neither exists)."""
        if self._clients.client_credentials(provider, client_id) is not None:
            return "client"
        return "default" if provider in self.deployment().credentials else None
