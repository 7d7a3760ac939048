"""The Consul Template snippets reach the proxy's container as Docker Flow put them there
(`/consul_templates/<service>-fe.tmpl`), copied through the Docker API into a real
container (a books-ms one standing in for docker-flow-proxy, which cannot be pulled)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from flowgate.backends.proxy import dfp_templates

pytestmark = pytest.mark.docker


def test_snippets_are_copied_into_the_container(docker_client: Any) -> None:
    name = "fgdfp" + secrets.token_hex(3)
    container = docker_client.containers.run(
        "books-ms:1.0", name=name, detach=True, init=True, command=["sleep", "60"]
    )
    try:
        files = {"books-app-fe.tmpl": "acl url_books-app-blue\n", "books-app-be.tmpl": "be\n"}
        dfp_templates.copy_into(container, files)
        code, out = container.exec_run(["cat", "/consul_templates/books-app-fe.tmpl"])
        assert (code, out.decode()) == (0, "acl url_books-app-blue\n")
        code, out = container.exec_run(["cat", "/consul_templates/books-app-be.tmpl"])
        assert (code, out.decode()) == (0, "be\n")
    finally:
        container.remove(force=True)
