"""Constant traffic for the demo: every request's status and the version that answered.

Stops when the stop file appears (or after 5 minutes), then prints one summary line.
No retries (flowgate.testing.traffic): a lost request is counted, never hidden.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from flowgate.testing.traffic import TrafficRecorder, version_and_color


def main(url: str, stop_file: Path) -> None:
    deadline = time.monotonic() + 300
    with TrafficRecorder(url, label=version_and_color, pause=0.01) as traffic:
        while not stop_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    print(f"traffic: {traffic.summary()}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
