"""Test images built locally: no registry can be reached, so nothing is pulled.

The smallest real image is the host's static busybox on `scratch`; a Dockerfile that
starts `FROM scratch` and `COPY busybox /bin/busybox` gets that binary in its context.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static (scripts/setup.sh installs it)


def build_busybox_image(client: Any, tag: str, dockerfile: str) -> str:
    """Build `dockerfile` (text) with the static busybox in its context; returns `tag`.

    The engine caches the layers, so building again in another test session is quick.
    """
    with tempfile.TemporaryDirectory(prefix="flowgate-image-") as folder:
        context = Path(folder)
        (context / "Dockerfile").write_text(dockerfile)
        shutil.copy(BUSYBOX, context / "busybox")
        client.images.build(path=str(context), tag=tag, rm=True)
    return tag
