"""Run a command with a throwaway local Kafka broker (KRaft, the jars built into the cache by
scripts/servers/build.sh kafka): ONTASK_KAFKA_BOOTSTRAP tells the command where it is."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from realservers.kafka import KafkaBroker  # noqa: E402


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: with_kafka.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ontask-kafka-") as tmp:
        broker = KafkaBroker(Path(tmp))
        bootstrap = broker.start()
        try:
            return subprocess.call(sys.argv[1:], env={**os.environ, "ONTASK_KAFKA_BOOTSTRAP": bootstrap})
        finally:
            broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
