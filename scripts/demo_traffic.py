"""Constant traffic for the demo: every request's status and the version that answered.

Stops when the stop file appears (or after 5 minutes), then prints one summary line.
Fresh connections, no retries: a lost request is counted, never hidden.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path


def main(url: str, stop_file: Path) -> None:
    statuses: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    deadline = time.monotonic() + 300
    while not stop_file.exists() and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                body = json.loads(answer.read())
                statuses[str(answer.status)] += 1
                versions[f"{body['version']} ({body['color']})"] += 1
        except urllib.error.HTTPError as err:
            statuses[str(err.code)] += 1
        except (urllib.error.URLError, OSError, ValueError) as err:
            statuses[f"error: {type(err).__name__}"] += 1
        time.sleep(0.01)
    total = sum(statuses.values())
    failed = total - statuses["200"]
    print(
        f"traffic: {total} requests, {failed} failed; answered by: "
        + ", ".join(f"{v} x{n}" for v, n in versions.items())
    )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
