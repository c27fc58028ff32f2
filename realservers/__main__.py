"""`python -m realservers up|down|status`: the servers for manual work (make servers-up)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from . import RealServers, running_state, state_file


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m realservers")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--background", action="store_true", help="with up: detach and return once all are ready")
    args = parser.parse_args()

    if args.command == "status":
        state = running_state()
        print(json.dumps(state, indent=2) if state else "not running")
        return 0 if state else 1

    if args.command == "down":
        state = running_state()
        if not state:
            print("not running")
            return 0
        os.kill(state["pid"], signal.SIGTERM)
        for _ in range(150):
            if running_state() is None:
                break
            time.sleep(0.2)
        state_file().unlink(missing_ok=True)
        print("stopped")
        return 0

    if running_state():
        print(f"already running: {state_file()}")
        return 0
    if args.background:
        log = state_file().parent / "servers-up.log"
        state_file().parent.mkdir(parents=True, exist_ok=True)
        state_file().unlink(missing_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "realservers", "up"],
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        while not state_file().exists():
            if proc.poll() is not None:
                print(f"servers failed to start; see {log}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        print(state_file().read_text())
        return 0

    servers = RealServers()
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        servers.kube(), servers.kafka(), servers.s3(), servers.training_operator()
        state_file().parent.mkdir(parents=True, exist_ok=True)
        state_file().write_text(json.dumps(servers.to_state(), indent=2))
        print(f"servers ready: {state_file()}", flush=True)
        while not stop["now"]:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        servers.stop()
        state_file().unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
