"""The provider accounts' credentials as Secrets Manager keeps them (calls/providers/
credentials.py says where and in what shape), for checking status webhooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from campaign_calling.aws.secretsmanager import CachedSecret, SecretNotFound
from campaign_calling.calls.providers.credentials import (
    client_credentials,
    client_provider_secret_name,
    deployment_credentials,
)
from campaign_calling.calls.providers.dialect import Dialect


class SecretWebhookKeys:
    """The default account from the deployment's secret; a client's own account from its
    secret under ``client_secret_prefix``. Both cached ``max_age_seconds``."""

    def __init__(
        self,
        deployment_secret: Callable[[], str],
        *,
        client_secret_prefix: str,
        max_age_seconds: int,
    ) -> None:
        self._deployment = deployment_secret
        self._prefix = client_secret_prefix
        self._max_age = max_age_seconds

    def credentials(
        self, provider: Dialect, client_id: str, account: Literal["client", "default"]
    ) -> Mapping[str, str] | None:
        if account == "default":
            return deployment_credentials(self._deployment(), provider)
        name = client_provider_secret_name(self._prefix, client_id, provider)
        try:
            return client_credentials(CachedSecret(name, self._max_age)())
        except SecretNotFound:
            return None  # the client removed its account since the call was placed
