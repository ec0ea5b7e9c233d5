"""Secrets Manager: a secret's value, read through Powertools Parameters and cached."""

from __future__ import annotations

from botocore.exceptions import ClientError

from campaign_calling.aws.errors import error_code


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
