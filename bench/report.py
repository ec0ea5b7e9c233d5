"""Results (<name>.json) -> a summary in Markdown: bench/results/ and docs/benchmarks.md
when recorded (`make bench RECORD=1`), else .bench/ (not tracked), so that measuring
leaves the tree clean."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.prices import PRICES, lambda_duration_cost_per_1000
from campaign_local.template import find_template

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
SCRATCH = ROOT / ".bench"


def destination(record: bool) -> tuple[Path, Path]:
    """(results folder, Markdown file) of a benchmark run."""
    return (RESULTS, DOC) if record else (SCRATCH / "results", SCRATCH / "benchmarks.md")


def save(name: str, result: dict[str, Any], results: Path = RESULTS) -> None:
    results.mkdir(parents=True, exist_ok=True)
    result = {
        "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        **result,
    }
    (results / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")


def _load(results: Path, name: str) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def write_markdown(results: Path = RESULTS, doc: Path = DOC) -> Path:
    find_template()  # fail early when not in the project
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench RECORD=1` (`python -m bench --record [names]`) from `bench/results/*.json`; each section "
        "names the command that produced it, when and where. The numbers of the local engine measure the "
        "design (requests, events, transitions are the same in AWS); its seconds are those of moto on a "
        "laptop, not of AWS.",
        "",
    ]
    for name, render in (
        ("throughput", _throughput),
        ("request_path", _request_path),
        ("pacing", _pacing),
        ("cold_start", _cold_start),
    ):
        result = _load(results, name)
        if result is None:
            parts += [f"## {name}", "", f"Not measured yet: `python -m bench {name}`.", ""]
            continue
        parts += render(result)
        parts += ["", f"_Command: `{result['command']}`; measured {result['measuredAt']} on {result['machine']}._", ""]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text("\n".join(parts))
    return doc


def _throughput(r: dict[str, Any]) -> list[str]:
    lines = [
        "## Cost per call and local throughput",
        "",
        r["setup"] + ". Every contact was dialed exactly once and in order, and every execution stayed under "
        "25,000 history events (checked by the benchmark).",
        "",
        "| contacts | run (s) | contacts/s | executions | max events in one execution | events per call | state transitions per call | Lambda invocations per call | DynamoDB requests per call | DynamoDB write units per call | DynamoDB read units per call | import (s) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in r["runs"]:
        pc = run["perCall"]
        lines.append(
            f"| {run['contacts']:,} | {run['runSeconds']} | {run['contactsPerSecond']} | {run['executions']} | "
            f"{run['maxEventsPerExecution']:,} | {pc['historyEvents']} | {pc['stateTransitions']} | "
            f"{pc['lambdaInvocations']} | {pc['dynamodbRequests']} | {pc['dynamodbWriteUnits']} | "
            f"{pc['dynamodbReadUnits']} | {run['importSeconds']} |"
        )
    big = r["runs"][-1]
    cost = big["costPer1000Calls"]
    lines += [
        "",
        f"Cost per 1,000 calls at list price (from the {big['contacts']:,}-contact run; requests only): "
        f"Step Functions ${cost['stepFunctions']:.4f}, Lambda requests ${cost['lambdaRequests']:.4f}, "
        f"DynamoDB ${cost['dynamodb']:.4f}; **total ${cost['total']:.4f}**. Lambda duration comes on top: "
        f"at 256 MB arm64, every 100 ms per call adds ${lambda_duration_cost_per_1000(0.1):.4f} per 1,000 calls "
        "(with a delay of 1 s or more the dial step sleeps the last 1 to 2 s of it, see Pacing).",
        "",
        "DynamoDB is counted in capacity units as it bills them: a transactional write costs 2 write units "
        "per KB of each of its items (a put by the item's measured size; an update as 1 KB, checked: the "
        f"largest item a run updated was {big.get('largestUpdatedItemBytes', '?')} bytes), a plain write 1 "
        "per KB, a strongly consistent read 1 per 4 KB read, an eventually consistent one half that.",
        "",
        "Prices used: " + ", ".join(f"{k} ${v:.10g}" for k, v in PRICES.items()) + " (us-east-1, on demand).",
        "",
        f"DynamoDB requests and units in the {big['contacts']:,}-contact run: "
        + ", ".join(
            f"{k} {v:,}" for k, v in sorted(big["awsRequests"].items()) if k.split(".")[0] in ("dynamodb", "units")
        ),
        "",
        "Lambda invocations by function: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(big["invocationsByFunction"].items())),
    ]
    return lines


def _request_path(r: dict[str, Any]) -> list[str]:
    lines = [
        "## The request path does not grow with the campaign",
        "",
        r["setup"] + ".",
        "",
        "| contacts | start-calling | calling-status | stop-calling | import through the API |",
        "| ---: | --- | --- | --- | --- |",
    ]
    for run in r["runs"]:
        cells = [
            ", ".join(f"{k} {v}" for k, v in run["requests"][op].items())
            for op in ("start-calling", "calling-status", "stop-calling")
        ]
        lines.append(
            f"| {run['contacts']:,} | {cells[0]} | {cells[1]} | {cells[2]} | "
            f"{run['importRequests']:,} requests of up to 500, {run['importSeconds']} s |"
        )
    lines += ["", "Same for every size: " + ("yes" if r["sameForEverySize"] else "**no**") + "."]
    return lines


def _pacing(r: dict[str, Any]) -> list[str]:
    lines = [
        "## Pacing",
        "",
        r["setup"] + ". The delay runs from the provider's answer to the previous call, so the error is never "
        "negative; it is that answer's latency plus the step's overhead.",
        "",
        "| delay (ms) | gaps | median gap (ms) | median error (ms) | min error (ms) | max error (ms) | Wait state (s) | dial step per call (ms) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in r["runs"]:
        lines.append(
            f"| {run['delayMs']} | {run['gaps']} | {run['medianGapMs']} | {run['medianErrorMs']} | "
            f"{run['minErrorMs']} | {run['maxErrorMs']} | {run.get('waitStateSeconds', '')} | "
            f"{run.get('dialStepMsPerCall', '')} |"
        )
    lines += [
        "",
        "The Wait state sleeps whole seconds; the dial step sleeps the rest of the delay (the whole "
        "delay below 2 s, then between 1 and 2 s) and is billed for it: the last column is the dial "
        "step's measured duration per call, the first call (no wait) included, so it is Lambda "
        "duration that comes on top of the request costs above.",
    ]
    return lines


def _cold_start(r: dict[str, Any]) -> list[str]:
    limit = r.get("limitRatio", 1.5)
    lines = [
        "## Cold start and package size",
        "",
        r["setup"] + f". `import boto3` alone: **{r['importBoto3Ms']} ms**; the limit is {limit} x that.",
        "",
    ]
    if "stackMs" in r:
        lines += [
            f"The stack alone ({r['stack']}), before any code of ours: {r['stackMs']} ms, "
            f"{r['stackMs'] / r['importBoto3Ms']:.2f} x.",
            "",
        ]
    if "floorsMs" in r:
        lines += [
            "What each kind of handler cannot do without ("
            + r["floors"]
            + "): "
            + "; ".join(f"{kind} {ms} ms, {ms / r['importBoto3Ms']:.2f} x" for kind, ms in r["floorsMs"].items())
            + ". The last column is what our own code adds on top.",
            "",
        ]
    lines += [
        "| function | handler import (ms) | x boto3 alone | within the limit | code (bytes) | ours over its floor (ms) |",
        "| --- | ---: | ---: | :---: | ---: | ---: |",
    ]
    for name, f in r["functions"].items():
        ratio = f.get("ratio", round(f["importMs"] / r["importBoto3Ms"], 2))
        within = "yes" if ratio <= limit else "**no**"
        ours = f"{f['oursMs']} ({f['kind']})" if "oursMs" in f else "-"
        lines.append(f"| {name} | {f['importMs']} | {ratio:.2f} | {within} | {f['codeBytes']:,} | {ours} |")
    lines += ["", "| layer | unzipped (MB) | zipped (MB) |", "| --- | ---: | ---: |"]
    for name, layer in r["layers"].items():
        lines.append(f"| {name} | {layer['unzippedBytes'] / 1e6:.1f} | {layer['zippedBytes'] / 1e6:.1f} |")
    return lines
