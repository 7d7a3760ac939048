"""Release history read newest first without reading all of it.

Release ids start with their UTC start time (`20261202T150112-3fa9`), so ordering the
ids (names only: a directory listing, a Consul `?keys` listing) orders the releases, and
a caller that stops after the newest few reads only those records. Releases started in
the same second are read together and ordered by their full start time, as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator

from flowgate.models import Release

#: `YYYYmmddTHHMMSS`: the part of an id that orders releases by their start.
SECOND = len("20261202T150112")


def newest_first(ids: Iterable[str], read: Callable[[str], Release | None]) -> Iterator[Release]:
    """Yield the records of `ids` newest first, reading each with `read` (None: gone)."""
    ordered = sorted(ids, reverse=True)
    for _, same_second in itertools.groupby(ordered, key=lambda i: i[:SECOND]):
        found = [release for release in map(read, same_second) if release is not None]
        yield from sorted(found, key=lambda r: (r.started, r.id), reverse=True)
