"""``dashboard [--store PATH] [--port N]``: serve the app on a store.

The store is opened (and its index brought up to date) once here, before Streamlit starts;
the app itself only ever opens existing stores, read-only.

Example:
    $ dashboard --store ~/xstilts-store --port 8501
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="dashboard", description="Serve the xstilts dashboard on a run store.")
    p.add_argument("--store", default=None,
                   help="store folder (default: $XSTILTS_STORE, else ~/.local/share/xstilts/store); it must exist "
                        "(`store build --store PATH` makes one with the bundled catalog and published results, "
                        "`store demo --store PATH` a demonstration store); or hf://datasets/ORG/NAME, pulled "
                        "into a local read-only cache")
    p.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    p.add_argument("--address", default="localhost", help="address to bind (default localhost)")
    return p


def streamlit_command(port: int, address: str) -> list[str]:
    """The ``streamlit run`` command line for the app."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", address, "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--client.toolbarMode", "minimal",
    ]


def main(argv: list[str] | None = None) -> int:
    """Prepares the store, then becomes the Streamlit server (until interrupted)."""
    args = build_parser().parse_args(argv)
    from dashboard import data  # the store only through the data module (and Streamlit only once asked)

    try:
        path = data.prepare_store(args.store)  # a Hub store is pulled here, so a failure is one line now
    except data.StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    spec = args.store if data.is_remote_store(args.store) else str(path)
    env = dict(os.environ, XSTILTS_DASHBOARD_STORE=spec)
    root = str(APP.parent.parent)  # so `import dashboard` works without an install
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    print(f"dashboard: serving {spec} on http://{args.address}:{args.port}", flush=True)
    cmd = streamlit_command(args.port, args.address)
    os.execve(cmd[0], cmd, env)  # Streamlit replaces this process: signals reach it directly
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
