"""The simulated telephony provider (the package campaign_local.simulator; its docstring
lists the endpoints, dialects, lifecycle and faults).

Run standalone with ``python -m campaign_local.sim_dialer`` (port from ``DIALER_PORT``,
default 8081; settings from the environment, see ``SimDialerConfig.from_env``).
"""

from __future__ import annotations

import os
import signal
import sys

from campaign_local.simulator import FAULT_MODES, WEBHOOK_FAULT_MODES, SimDialer, SimDialerConfig

__all__ = [
    "FAULT_MODES",
    "WEBHOOK_FAULT_MODES",
    "SimDialer",
    "SimDialerConfig",
    "main",
]


def main() -> None:
    """Run standalone in the foreground on DIALER_PORT (default 8081)."""
    port = int(os.environ.get("DIALER_PORT") or 8081)
    dialer = SimDialer(SimDialerConfig.from_env(), port=port).start()
    # Turn SIGTERM (docker stop, process managers) into a clean shutdown.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"sim dialer listening on {dialer.url}", file=sys.stderr, flush=True)
    try:
        dialer.wait()
    except KeyboardInterrupt:
        pass
    finally:
        dialer.stop()


if __name__ == "__main__":
    main()
