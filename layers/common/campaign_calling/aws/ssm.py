"""Systems Manager Parameter Store: a parameter's value, read through Powertools Parameters
and cached (the webhook base URL, which no function's environment may hold: see template.yaml)."""

from __future__ import annotations

from campaign_calling.errors import DependencyUnavailable


class CachedParameter:
    """A String parameter, fetched on first use and again once ``max_age_seconds`` have passed."""

    def __init__(self, name: str, max_age_seconds: int) -> None:
        self._name = name
        self._max_age = max_age_seconds

    def __call__(self) -> str:
        # Imported here: only the functions that read a parameter pay for Powertools Parameters.
        from aws_lambda_powertools.utilities import parameters
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            return str(parameters.get_parameter(self._name, max_age=self._max_age))
        except GetParameterError:
            raise DependencyUnavailable(f"parameter {self._name} could not be read; try again") from None
