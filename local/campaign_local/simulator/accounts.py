"""Provider accounts: who may call, with which agents and from which numbers.

Each dialect has one default account built from ``SimDialerConfig``; it owns every agent id
and number it is asked about, so local use needs no setup. ``POST /accounts`` adds accounts
that own exactly the agents and numbers they list, for tests of ownership. An account is
found by its key (the API key, or Twilio's account SID) and its credentials signed every
webhook of the calls it placed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from campaign_local.simulator.config import SimDialerConfig

PROVIDERS: tuple[str, ...] = ("generic", "twilio", "vapi", "retell")
# The credentials object of each provider (design §1), and the field that identifies it.
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "generic": ("apiKey", "webhookSecret"),
    "twilio": ("accountSid", "authToken"),
    "vapi": ("apiKey", "serverSecret"),
    "retell": ("apiKey",),
}
_KEY_FIELD = {"generic": "apiKey", "twilio": "accountSid", "vapi": "apiKey", "retell": "apiKey"}
_IDS = uuid.UUID("6f1c1b7e-3c51-4a39-9f0e-6a1d2f6f5b10")  # namespace of stable phone number ids


@dataclass
class Account:
    id: str
    provider: str
    credentials: dict[str, str] = field(repr=False)
    agents: frozenset[str] | None  # None: owns any agent id asked about
    numbers: tuple[str, ...] | None  # None: owns any number asked about
    # The default account lists the numbers it was asked about (it cannot list "any").
    met_numbers: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def key(self) -> str:
        return self.credentials[_KEY_FIELD[self.provider]]

    @property
    def is_default(self) -> bool:
        return self.agents is None

    def owns_agent(self, agent_id: str) -> bool:
        return self.agents is None or agent_id in self.agents

    def owns_number(self, number: str) -> bool:
        if self.numbers is None:
            self.meet(number)
            return True
        return number in self.numbers

    def meet(self, number: str) -> None:
        with self._lock:
            if self.numbers is None and number and number not in self.met_numbers:
                self.met_numbers.append(number)

    def listed_numbers(self) -> list[str]:
        if self.numbers is not None:
            return list(self.numbers)
        with self._lock:
            return list(self.met_numbers)

    def number_id(self, number: str) -> str:
        """A stable id per (account, number), as Vapi gives an imported number."""
        return str(uuid.uuid5(_IDS, f"{self.id}:{number}"))

    def number_of(self, number_id: str) -> str | None:
        return next((n for n in self.listed_numbers() if self.number_id(n) == number_id), None)

    def describe(self) -> dict[str, Any]:
        """What POST /accounts answers: everything but the credentials."""
        described: dict[str, Any] = {
            "id": self.id,
            "provider": self.provider,
            "agents": sorted(self.agents or ()),
            "numbers": self.listed_numbers(),
        }
        if self.provider == "vapi":
            described["phoneNumbers"] = [{"id": self.number_id(n), "number": n} for n in self.listed_numbers()]
        return described


def default_accounts(config: SimDialerConfig) -> dict[str, Account]:
    """One default account per provider; a credential not configured is generated."""
    numbers = list(config.default_numbers)

    def account(provider: str, credentials: dict[str, str]) -> Account:
        return Account("default", provider, credentials, None, None, list(numbers))

    return {
        "generic": account(
            "generic",
            {
                "apiKey": config.api_key or f"sk_sim_{secrets.token_hex(16)}",
                "webhookSecret": config.webhook_secret or f"whsec_{secrets.token_hex(24)}",
            },
        ),
        "twilio": account(
            "twilio",
            {
                "accountSid": config.twilio_account_sid or f"AC{secrets.token_hex(16)}",
                "authToken": config.twilio_auth_token or secrets.token_hex(16),
            },
        ),
        "vapi": account(
            "vapi",
            {
                "apiKey": config.vapi_api_key or str(uuid.uuid4()),
                "serverSecret": config.vapi_server_secret or secrets.token_urlsafe(24),
            },
        ),
        "retell": account("retell", {"apiKey": config.retell_api_key or f"key_{secrets.token_hex(14)}"}),
    }


class Accounts:
    """The default accounts and those added by POST /accounts; thread-safe."""

    def __init__(self, config: SimDialerConfig) -> None:
        self._lock = threading.Lock()
        self._defaults = default_accounts(config)
        # The generic dialect took any bearer key before accounts existed; so it still does
        # when no api_key is configured.
        self._generic_any_key = config.api_key is None
        self._added: dict[tuple[str, str], Account] = {}

    def default(self, provider: str) -> Account:
        return self._defaults[provider]

    def default_credentials(self) -> dict[str, dict[str, str]]:
        return {provider: dict(account.credentials) for provider, account in self._defaults.items()}

    def find(self, provider: str, key: str, secret: str | None = None) -> Account | None:
        """The account whose key is ``key`` (and, for Twilio, whose auth token is ``secret``),
        compared in constant time."""
        with self._lock:
            candidates = [self._defaults[provider], *(a for a in self._added.values() if a.provider == provider)]
        found = None
        for account in candidates:
            if hmac.compare_digest(_digest(account.key), _digest(key)):
                found = account
        if found is None:
            if provider == "generic" and self._generic_any_key:
                return self._defaults["generic"]
            return None
        if secret is not None and not hmac.compare_digest(_digest(found.credentials["authToken"]), _digest(secret)):
            return None
        return found

    def add(self, spec: Any) -> Account:
        """An account from a POST /accounts body; ValueError (400) or KeyError (409)."""
        if not isinstance(spec, Mapping):
            raise ValueError("body must be a JSON object")
        provider = spec.get("provider")
        if provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
        credentials = spec.get("credentials")
        wanted = CREDENTIAL_FIELDS[provider]
        if not isinstance(credentials, Mapping):
            raise ValueError(f"credentials must be an object with {', '.join(wanted)}")
        unknown = sorted(set(credentials) - set(wanted))
        if unknown:
            raise ValueError(f"credentials of {provider} take only {', '.join(wanted)}")
        for name in wanted:
            value = credentials.get(name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"credentials.{name} is required and must be a non-empty string")
        agents = _strings(spec.get("agents", []), "agents")
        numbers = _strings(spec.get("numbers", []), "numbers")
        with self._lock:
            account = Account(
                _account_id(provider, credentials[_KEY_FIELD[provider]]),
                provider,
                {name: str(credentials[name]) for name in wanted},
                frozenset(agents),
                tuple(dict.fromkeys(numbers)),
            )
            index = (provider, account.key)
            if account.key == self._defaults[provider].key or index in self._added:
                raise KeyError(f"a {provider} account with this {_KEY_FIELD[provider]} exists")
            self._added[index] = account
        return account

    def clear(self) -> None:
        with self._lock:
            self._added.clear()


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f"{name} must be a list of non-empty strings")
    return list(value)


def _account_id(provider: str, key: str) -> str:
    # Stable for the same credentials, so a restarted simulator gives the same number ids.
    return "acct_" + hashlib.sha256(f"{provider}:{key}".encode()).hexdigest()[:12]


def _digest(value: str) -> bytes:
    # Equal-length inputs to compare_digest, so the length of a key leaks nothing.
    return hashlib.sha256(value.encode("utf-8")).digest()
