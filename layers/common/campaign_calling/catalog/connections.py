"""A client connects its own provider account: PUT /api/v1/client/providers/{provider}.

The credentials are checked field by field, then against the provider itself (one listing
with them), and only then written to the client's secret. They are never read back through
the API, and no message, log or answer quotes them.
"""

from __future__ import annotations

from typing import Protocol

from campaign_calling.calls.providers.accounts import Credentials, CredentialsError, read_credentials
from campaign_calling.calls.providers.dialect import DIALECTS, Dialect
from campaign_calling.calls.providers.directory import CredentialsRefused, DirectoryUnavailable, ProviderDirectory
from campaign_calling.errors import DependencyUnavailable, InvalidRequest, NotFound


class AccountWriter(Protocol):
    def connect(self, provider: Dialect, client_id: str, credentials: Credentials) -> None: ...


class ProviderConnections:
    def __init__(self, *, accounts: AccountWriter, directory: ProviderDirectory) -> None:
        self._accounts = accounts
        self._directory = directory

    def connect(self, client_id: str, provider: str, body: object) -> Dialect:
        """Store the client's own ``provider`` account. The same credentials again change
        nothing a client can see (a new version of the same value): PUT is idempotent."""
        if provider not in DIALECTS:
            raise NotFound("provider")
        dialect: Dialect = provider
        try:
            credentials = read_credentials(dialect, body, connecting=True)
        except CredentialsError as exc:
            raise InvalidRequest(f"{provider} credentials: {exc}") from None
        try:
            self._directory.check_credentials(dialect, credentials)
        except CredentialsRefused:
            raise InvalidRequest(f"{provider} refused these credentials; nothing was stored") from None
        except DirectoryUnavailable:
            raise DependencyUnavailable(
                f"{provider} could not be asked whether these credentials work; nothing was stored, try again"
            ) from None
        self._accounts.connect(dialect, client_id, credentials)
        return dialect
