"""List prices used to turn counts into money (us-east-1, on-demand; state the date when
updating). Requests only: Lambda duration depends on the provider's latency and on how
long the dial step sleeps to finish each delay (see pacing's measured step durations)."""

from __future__ import annotations

PRICES = {
    "stepFunctionsPerTransition": 0.025 / 1000,  # Standard workflows
    "lambdaPerRequest": 0.20 / 1_000_000,
    "lambdaPerGbSecondArm": 0.0000133334,
    "dynamodbPerWriteUnit": 0.625 / 1_000_000,  # on-demand write request unit
    "dynamodbPerReadUnit": 0.125 / 1_000_000,  # on-demand read request unit
}
LAMBDA_MEMORY_GB = 0.25


def call_cost(per_call: dict[str, float]) -> dict[str, float]:
    """Dollars per 1,000 calls, by service, from counts per call."""
    step_functions = per_call["stateTransitions"] * PRICES["stepFunctionsPerTransition"] * 1000
    lambda_requests = per_call["lambdaInvocations"] * PRICES["lambdaPerRequest"] * 1000
    # Capacity units as DynamoDB bills them (2 write units per KB of each transaction item).
    dynamodb = (
        per_call["dynamodbWriteUnits"] * PRICES["dynamodbPerWriteUnit"]
        + per_call["dynamodbReadUnits"] * PRICES["dynamodbPerReadUnit"]
    ) * 1000
    return {
        "stepFunctions": round(step_functions, 4),
        "lambdaRequests": round(lambda_requests, 4),
        "dynamodb": round(dynamodb, 4),
        "total": round(step_functions + lambda_requests + dynamodb, 4),
    }


def lambda_duration_cost_per_1000(seconds_per_call: float) -> float:
    return round(seconds_per_call * LAMBDA_MEMORY_GB * PRICES["lambdaPerGbSecondArm"] * 1000, 4)
