"""`make bench`: what a campaign costs in time, requests and money, measured.

Each benchmark writes .bench/results/<name>.json and .bench/benchmarks.md is rebuilt from
all the results there (not tracked: a run leaves the tree clean); with --record
(`make bench RECORD=1`), bench/results/ and docs/benchmarks.md instead. Correctness is checked as it goes (every contact dialed exactly once,
in order; every execution's history under 25,000 events): a wrong result fails the run.

    python -m bench                 # everything (about 10 minutes on 2 cores)
    python -m bench pacing cold_start
    python -m bench --record        # update bench/results/ and docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import sys

from bench import cold_start, pacing, report, request_path, throughput

BENCHMARKS = {
    "throughput": throughput.run,
    "request_path": request_path.run,
    "pacing": pacing.run,
    "cold_start": cold_start.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="benchmarks to run (default: all)")
    parser.add_argument(
        "--record", action="store_true", help="write to bench/results/ and docs/benchmarks.md (tracked)"
    )
    args = parser.parse_args(argv)
    results, doc = report.destination(args.record)
    failures: list[str] = []
    for name in args.names or list(BENCHMARKS):
        print(f"== {name}", flush=True)
        result = BENCHMARKS[name]()
        report.save(name, result, results)
        failures += result.get("failures", [])  # a limit the issue sets, e.g. the cold start's
    path = report.write_markdown(results, doc)
    print(f"results in {results}/, summary in {path}")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
