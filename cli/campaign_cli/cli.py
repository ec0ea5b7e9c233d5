"""`campaign-calls`: start, follow, inspect and stop outbound campaign calling, on any
deployment (``--url``, ``--token``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx

from campaign_cli.client import DEFAULT_DELAY_MS, ApiError, CampaignApi
from campaign_cli.client import data as unwrap

DEFAULT_URL = "http://127.0.0.1:3000"
POLL_INTERVAL_SECONDS = 2.0
BAR_WIDTH = 20
# The worker may not have written its first progress record by the time the
# first poll lands, so "nothing running yet" is tolerated for a few polls
# before the follower concludes there is nothing to follow.
IDLE_POLLS_BEFORE_GIVING_UP = 3

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_CONNECTION_ERROR = 2
EXIT_INTERRUPTED = 130


# --- formatting -------------------------------------------------------------


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _progress_status(progress: dict[str, Any]) -> str:
    # Older progress records have no `status`; derive it from isRunning.
    status = progress.get("status")
    if status:
        return str(status)
    return "running" if progress.get("isRunning") else "stopped"


def _progress_running(progress: dict[str, Any]) -> bool:
    if "isRunning" in progress:
        return bool(progress["isRunning"])
    return progress.get("status") == "running"


def _format_time(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Epoch milliseconds (Date.now()) vs seconds.
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")
    return str(value)


def format_bar(progress: dict[str, Any] | None, total_contacts: int) -> str:
    """One-line progress bar, e.g. `[##########----------] 5/10  ok 4  failed 1  running`."""
    if progress is None:
        return f"[{'-' * BAR_WIDTH}] 0/{total_contacts}  waiting for progress"
    total = _int(progress.get("totalContacts")) or total_contacts
    done = _int(progress.get("completedCalls"))
    filled = min(BAR_WIDTH, (done * BAR_WIDTH) // total) if total > 0 else 0
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    return (
        f"[{bar}] {done}/{total}"
        f"  ok {_int(progress.get('successfulCalls'))}"
        f"  failed {_int(progress.get('failedCalls'))}"
        f"  {_progress_status(progress)}"
    )


def format_summary(progress: dict[str, Any] | None, total_contacts: int) -> str:
    if progress is None:
        return f"no calling progress reported ({total_contacts} contacts)"
    total = _int(progress.get("totalContacts")) or total_contacts
    line = (
        f"{_int(progress.get('completedCalls'))}/{total} completed,"
        f" {_int(progress.get('successfulCalls'))} successful,"
        f" {_int(progress.get('failedCalls'))} failed"
        f" - status {_progress_status(progress)}"
    )
    if progress.get("reason"):
        line += f" ({progress['reason']})"
    return line


def format_status(data: dict[str, Any]) -> str:
    progress = data.get("progress")
    total = _int(data.get("totalContacts"))
    rows: list[tuple[str, str]] = [
        ("campaign", str(data.get("campaignId", ""))),
        ("running", "yes" if data.get("isRunning") else "no"),
        ("contacts", str(total)),
    ]
    if isinstance(progress, dict):
        rows.append(("progress", format_summary(progress, total)))
        rows.append(("status", _progress_status(progress)))
        if progress.get("reason"):
            rows.append(("reason", str(progress["reason"])))
        if progress.get("startTime") is not None:
            rows.append(("started", _format_time(progress["startTime"])))
        if progress.get("lastCallTime") is not None:
            rows.append(("last call", _format_time(progress["lastCallTime"])))
        if _int(progress.get("contactsWaiting")):
            rows.append(
                ("waiting", f"{_int(progress['contactsWaiting'])} contacts (calling window or per-number limits)")
            )
        if progress.get("waitingUntil"):
            rows.append(("next look", _format_time(progress["waitingUntil"])))
    else:
        rows.append(("progress", "none"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


# --- following --------------------------------------------------------------


class _BarWriter:
    """Redraws one line in place on a TTY; otherwise emits one line per update."""

    def __init__(self, out: TextIO, is_tty: bool) -> None:
        self.out = out
        self.is_tty = is_tty
        self._last_len = 0

    def update(self, line: str) -> None:
        if self.is_tty:
            # Pad so a shorter line fully overwrites a longer previous one.
            self.out.write("\r" + line.ljust(self._last_len))
            self._last_len = len(line)
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def finish(self) -> None:
        if self.is_tty and self._last_len:
            self.out.write("\n")
            self.out.flush()
        self._last_len = 0


def follow_progress(
    client: CampaignApi,
    campaign_id: str,
    out: TextIO,
    *,
    interval: float = POLL_INTERVAL_SECONDS,
    is_tty: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll calling-status until progress reports not running; returns the last status data.

    KeyboardInterrupt propagates (after ending the bar line) so the caller decides.
    """
    writer = _BarWriter(out, out.isatty() if is_tty is None else is_tty)
    idle_polls = 0
    try:
        while True:
            data = unwrap(client.calling_status(campaign_id))
            progress = data.get("progress")
            progress = progress if isinstance(progress, dict) else None
            writer.update(format_bar(progress, _int(data.get("totalContacts"))))
            if progress is not None:
                if not _progress_running(progress):
                    return data
            elif not data.get("isRunning"):
                idle_polls += 1
                if idle_polls >= IDLE_POLLS_BEFORE_GIVING_UP:
                    return data
            sleep(interval)
    finally:
        writer.finish()


# --- commands ---------------------------------------------------------------


def _cmd_start(
    args: argparse.Namespace,
    client: CampaignApi,
    out: TextIO,
    err: TextIO,
    poll_interval: float,
) -> int:
    result = unwrap(client.start_calling(args.campaign, args.agent, args.delay, calling_window=args.window))
    print(
        f"campaign {result.get('campaignId', args.campaign)}: {result.get('status', 'started')}"
        f" ({_int(result.get('totalContacts'))} contacts, agent {args.agent},"
        f" {args.delay} ms between calls)",
        file=out,
    )
    if args.no_follow:
        return EXIT_OK
    try:
        data = follow_progress(client, args.campaign, out, interval=poll_interval)
    except KeyboardInterrupt:
        print(
            f"stopped following; the campaign keeps calling. To stop it: campaign-calls stop {args.campaign}",
            file=err,
        )
        return EXIT_INTERRUPTED
    progress = data.get("progress")
    summary = format_summary(progress if isinstance(progress, dict) else None, _int(data.get("totalContacts")))
    print(f"done: {summary}", file=out)
    return EXIT_OK


def _cmd_status(args: argparse.Namespace, client: CampaignApi, out: TextIO) -> int:
    data = unwrap(client.calling_status(args.campaign))
    if args.json:
        print(json.dumps(data, indent=2), file=out)
    else:
        print(format_status(data), file=out)
    return EXIT_OK


def _cmd_stop(args: argparse.Namespace, client: CampaignApi, out: TextIO) -> int:
    result = unwrap(client.stop_calling(args.campaign))
    print(
        f"campaign {result.get('campaignId', args.campaign)}: {result.get('status', 'stopped')}",
        file=out,
    )
    return EXIT_OK


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def calling_window(text: str) -> dict[str, Any]:
    """``DAYS/HH:MM-HH:MM``: days as a comma list or a range (``mon-fri``, ``mon,wed,sat``),
    e.g. ``mon-fri/08:00-21:00``; the API checks the times."""
    days_text, sep, hours = text.partition("/")
    start, dash, end = hours.partition("-")
    if not sep or not dash:
        raise argparse.ArgumentTypeError(f"not DAYS/HH:MM-HH:MM (such as mon-fri/08:00-21:00): {text!r}")
    days: list[str] = []
    for part in days_text.lower().split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise argparse.ArgumentTypeError(f"not a day or a range of days (mon..sun): {part!r}")
        span = _DAYS[_DAYS.index(first) : _DAYS.index(last) + 1] if last else (first,)
        days += [d for d in span if d not in days]
    return {"days": days, "start": start, "end": end}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campaign-calls", description="Start, follow, inspect and stop campaign calling."
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("CAMPAIGN_API_URL", DEFAULT_URL),
        help="API base URL (env CAMPAIGN_API_URL, default %(default)s)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("CAMPAIGN_API_TOKEN"),
        help="bearer token (env CAMPAIGN_API_TOKEN)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    start = sub.add_parser("start", help="start calling a campaign and follow its progress")
    start.add_argument("campaign", metavar="CAMPAIGN")
    start.add_argument("--agent", required=True, metavar="AGENT", help="agent id to place calls")
    start.add_argument(
        "--delay",
        type=_non_negative_int,
        default=DEFAULT_DELAY_MS,
        metavar="MS",
        help="delay between calls in ms (default %(default)s)",
    )
    start.add_argument(
        "--window",
        type=calling_window,
        metavar="DAYS/HH:MM-HH:MM",
        help="call only then, in each contact's local time (e.g. mon-fri/08:00-21:00); default: the client's",
    )
    start.add_argument("--no-follow", action="store_true", help="return right after starting")

    status = sub.add_parser("status", help="show calling status")
    status.add_argument("campaign", metavar="CAMPAIGN")
    status.add_argument("--json", action="store_true", help="print the raw status data as JSON")

    stop = sub.add_parser("stop", help="stop calling a campaign")
    stop.add_argument("campaign", metavar="CAMPAIGN")
    return parser


def run(
    args: argparse.Namespace,
    client: CampaignApi,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    poll_interval: float = POLL_INTERVAL_SECONDS,
) -> int:
    """Execute a parsed command, mapping expected failures to exit codes."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if args.command == "start":
            return _cmd_start(args, client, out, err, poll_interval)
        if args.command == "status":
            return _cmd_status(args, client, out)
        if args.command == "stop":
            return _cmd_stop(args, client, out)
        raise AssertionError(f"unhandled command {args.command!r}")
    except ApiError as exc:
        print(f"error: {exc.message}", file=err)
        return EXIT_API_ERROR
    except httpx.TimeoutException:
        print(f"error: request to {client.url} timed out", file=err)
        return EXIT_CONNECTION_ERROR
    except httpx.TransportError as exc:
        print(f"error: cannot connect to campaign API at {client.url} ({exc})", file=err)
        return EXIT_CONNECTION_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def main(
    argv: list[str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    poll_interval: float = POLL_INTERVAL_SECONDS,
) -> int:
    args = build_parser().parse_args(argv)
    with CampaignApi(args.url, token=args.token, transport=transport) as client:
        return run(args, client, poll_interval=poll_interval)


if __name__ == "__main__":
    sys.exit(main())
