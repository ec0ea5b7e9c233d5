"""CloudWatch metrics through Powertools (embedded metric format in the function's log):
the namespace and service come from the environment (template.yaml's Globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

CALLS_ENDED = "CallsEnded"


class CallMetrics:
    """One ``CallsEnded`` count per call that reached a final status, by ``provider`` and
    ``status``. The handler publishes them at the end of its invocation (``publish``)."""

    def __init__(self) -> None:
        from aws_lambda_powertools import Metrics

        self._metrics: Metrics = Metrics()

    def call_ended(self, provider: str, status: str) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self._metrics.add_dimension(name="provider", value=provider)
        self._metrics.add_dimension(name="status", value=status)
        self._metrics.add_metric(name=CALLS_ENDED, unit=MetricUnit.Count, value=1)

    def publish(self) -> None:
        """Flush what was recorded; nothing when nothing was (no empty-metrics warning).
        Cleared either way, so that no dimension outlives its invocation (Powertools keeps
        them when metrics are disabled)."""
        if self._metrics.metric_set:
            self._metrics.flush_metrics()
        self._metrics.clear_metrics()
