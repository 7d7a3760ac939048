"""Consul Template snippets for Docker Flow Proxy, as Docker Flow sent them (ha_proxy.go).

With `consul_template_fe_path` and `consul_template_be_path`, Docker Flow replaced
`SERVICE_NAME` in both files with `<service>-<color>`, copied them into the proxy's
container as `/consul_templates/<service>-fe.tmpl` and `-be.tmpl`, and asked the proxy to
reconfigure with `consulTemplateFePath` / `consulTemplateBePath` instead of a service path
and color. flowgate does the same, copying through the Docker API instead of `docker cp`.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from flowgate.errors import ConfigError

if TYPE_CHECKING:
    from docker.models.containers import Container

    from flowgate.config.settings import Settings

TEMPLATES_DIR = "/consul_templates"


def template_paths(settings: Settings) -> tuple[Path, Path] | None:
    fe, be = settings.get("consul_template_fe_path"), settings.get("consul_template_be_path")
    if not fe and not be:
        return None
    if not (fe and be):
        raise ConfigError(
            "consul_template_fe_path and consul_template_be_path go together",
            key="consul_template_fe_path" if not fe else "consul_template_be_path",
        )
    base = settings.project_dir
    return base / str(fe), base / str(be)


def rendered(paths: tuple[Path, Path], service: str, color: str) -> dict[str, str]:
    """`{"<service>-fe.tmpl": text, "<service>-be.tmpl": text}` with SERVICE_NAME replaced."""
    files = {}
    for path, kind in zip(paths, ("fe", "be"), strict=True):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(
                f"Consul Template {path} could not be loaded: {err.strerror}",
                key=f"consul_template_{kind}_path",
            ) from err
        files[f"{service}-{kind}.tmpl"] = text.replace("SERVICE_NAME", f"{service}-{color}")
    return files


def template_params(service: str) -> dict[str, str]:
    return {
        "serviceName": service,
        "consulTemplateFePath": f"{TEMPLATES_DIR}/{service}-fe.tmpl",
        "consulTemplateBePath": f"{TEMPLATES_DIR}/{service}-be.tmpl",
    }


def copy_into(container: Container, files: dict[str, str]) -> None:
    """Put the files into TEMPLATES_DIR of the container, creating the folder."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo(TEMPLATES_DIR.strip("/"))
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{TEMPLATES_DIR.strip('/')}/{name}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    container.put_archive("/", buffer.getvalue())
