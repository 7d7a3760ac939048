"""An HAProxy image built locally from the host's own `haproxy` binary (nothing is pulled).

`FROM scratch` with the binary and the shared libraries `ldd` lists, each at its host path,
so the dynamic loader finds them where it looks by default. No shell, no /etc/passwd: run it
with a numeric user and a config without `user`/`group`/`chroot` (flowgate renders none).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
ENTRYPOINT ["haproxy"]
"""


def shared_libraries(binary: Path) -> list[Path]:
    """Every library path `ldd` prints for `binary`, the dynamic loader included."""
    output = subprocess.run(
        ["ldd", str(binary)], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    found = [word for line in output.splitlines() for word in line.split() if word[0] == "/"]
    return [Path(path) for path in dict.fromkeys(found)]


def build_haproxy_image(client: Any, tag: str, binary: str | None = None) -> str:
    """Build the image with the Docker SDK `client`; returns `tag`."""
    source = Path(binary or shutil.which("haproxy") or "/usr/sbin/haproxy").resolve()
    with tempfile.TemporaryDirectory(prefix="flowgate-haproxy-image-") as folder:
        context = Path(folder)
        rootfs = context / "rootfs"
        for path in (source, *shared_libraries(source)):
            target = rootfs / path.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)  # follows symlinks: the real library under its name
        (context / "Dockerfile").write_text(DOCKERFILE)
        client.images.build(path=str(context), tag=tag, rm=True)
    return tag
