"""Does the proxy really serve? `status` asks it over HTTP instead of trusting the state:
HAProxy down must not show as healthy.

One GET on the public route's first path (with its first domain as Host), short timeout,
no retry. Any answer but a gateway error (502, 503, 504: the proxy has no server to send
the request to) counts as serving; a refused or timed-out connection does not.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from flowgate.engine.context import ReleaseContext
from flowgate.engine.routing import live_release, settings_route

if TYPE_CHECKING:
    from flowgate.backends.base import Route

GATEWAY_ERRORS = frozenset({502, 503, 504})
TIMEOUT = 3.0


def proxy_check(context: ReleaseContext) -> dict[str, Any] | None:
    """The `proxy_serves` hook's answer; None when nothing is live or nobody can tell."""
    if context.state.live_color is None:
        return None
    answer: dict[str, Any] | None = context.pm.hook.proxy_serves(context=context)
    return answer


def public_route(context: ReleaseContext) -> Route:
    """The public route as the live release went live with it (no instances)."""
    from flowgate.backends.base import Route

    release = live_release(context)
    values = release.route if release and release.route else settings_route(context)
    return Route(
        service=context.service_name,
        paths=tuple(values["paths"]),
        domains=tuple(values["domains"]),
        port=context.service.main_port,
        live_color=context.state.live_color,
    )


def check_url(url: str, route: Route) -> dict[str, Any]:
    """One GET on the public URL: {"url", "serving", "status", "error"}."""
    headers = {"Host": route.domains[0]} if route.domains else {}
    status, error = ask(url, headers)
    serving = status is not None and status not in GATEWAY_ERRORS
    if status in GATEWAY_ERRORS:
        error = f"the proxy answers {status}: it has no live server to send requests to"
    return {"url": url, "serving": serving, "status": status, "error": error}


def ask(url: str, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """(HTTP status, None) or (None, why no answer came)."""
    request = urllib.request.Request(url, headers=headers, method="GET")
    # Straight to the proxy: never through an HTTP proxy named in the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return int(response.status), None
    except urllib.error.HTTPError as err:
        return int(err.code), None
    except urllib.error.URLError as err:
        return None, f"no answer from {url}: {err.reason}"
    except (OSError, http.client.HTTPException) as err:
        return None, f"no answer from {url}: {err}"
