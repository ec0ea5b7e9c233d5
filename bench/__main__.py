"""`make bench`: what a campaign costs in time, requests and money, measured.

Each benchmark writes bench/results/<name>.json; docs/benchmarks.md is rebuilt from all
the results there. Correctness is checked as it goes (every contact dialed exactly once,
in order; every execution's history under 25,000 events): a wrong result fails the run.

    python -m bench                 # everything (about 10 minutes on 2 cores)
    python -m bench pacing cold_start
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
    args = parser.parse_args(argv)
    for name in args.names or list(BENCHMARKS):
        print(f"== {name}", flush=True)
        report.save(name, BENCHMARKS[name]())
    path = report.write_markdown()
    print(f"results in bench/results/, summary in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
