"""Secrets Manager: a secret's value, read through Powertools Parameters and cached."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from campaign_calling.aws.errors import error_code
from campaign_calling.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class SecretNotFound(LookupError):
    """The secret does not exist (the message names it, never a value)."""


class CachedSecret:
    """A secret string, fetched on first use and again once ``max_age_seconds`` have passed
    (so a rotated value is picked up without a redeploy)."""

    def __init__(self, secret_id: str, max_age_seconds: int) -> None:
        self._secret_id = secret_id
        self._max_age = max_age_seconds

    def __call__(self) -> str:
        # Imported here: only the functions that read a secret pay for Powertools Parameters.
        from aws_lambda_powertools.utilities import parameters
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            # Powertools' overload says str, but a secret stored as SecretBinary comes back as bytes.
            value: object = parameters.get_secret(self._secret_id, max_age=self._max_age)
        except GetParameterError as exc:
            # Powertools raises its own error inside botocore's handler: the cause is its context.
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ClientError) and error_code(cause) == "ResourceNotFoundException":
                raise SecretNotFound(f"secret {self._secret_id} does not exist") from None
            raise
        return value.decode() if isinstance(value, bytes) else str(value)


class SecretStore:
    """Secrets by name (the clients' own provider accounts). A value read is kept for
    ``max_age_seconds``; an absent secret is never remembered, so an account connected a
    moment ago is found at once."""

    def __init__(
        self, client: SecretsManagerClient, max_age_seconds: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._max_age = max_age_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    def get(self, name: str) -> str | None:
        cached = self._cache.get(name)
        if cached is not None and self._clock() - cached[0] < self._max_age:
            return cached[1]
        try:
            response = self._client.get_secret_value(SecretId=name)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                self._cache.pop(name, None)
                return None
            raise DependencyUnavailable(f"Secrets Manager failed ({error_code(exc)}); try again") from None
        value = response.get("SecretString") or response.get("SecretBinary", b"").decode()
        self._cache[name] = (self._clock(), value)
        return value

    def put(self, name: str, value: str, *, description: str) -> None:
        """A new version of the secret, or the secret itself when it does not exist yet."""
        try:
            try:
                self._client.put_secret_value(SecretId=name, SecretString=value)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                try:
                    self._client.create_secret(Name=name, SecretString=value, Description=description)
                except ClientError as again:
                    if error_code(again) != "ResourceExistsException":
                        raise
                    # Created meanwhile by a concurrent PUT: ours becomes its next version.
                    self._client.put_secret_value(SecretId=name, SecretString=value)
        except ClientError as exc:
            # The code only: the request (and so the value) stays out of every message.
            raise DependencyUnavailable(f"Secrets Manager failed ({error_code(exc)}); try again") from None
        self._cache.pop(name, None)
