"""flowgate-nginx: the `nginx` proxy backend for flowgate, a third-party plugin.

Registered through the `flowgate` entry-point group (see pyproject.toml); flowgate calls
`flowgate_backends` once and offers `proxy: nginx` from then on.
"""

from __future__ import annotations

from flowgate import Proxy, hookimpl
from flowgate_nginx.proxy import NginxProxy, stop_nginx

__version__ = "0.1.0"
__all__ = ["NginxProxy", "__version__", "stop_nginx"]


@hookimpl
def flowgate_backends() -> list[type[Proxy]]:
    return [NginxProxy]
