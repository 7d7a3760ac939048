"""Fake runtime and proxy backends for unit tests of the engine, the CLI and plugins.

They keep their state in a JSON file under the project's `.flowgate/fakes/`, so a CLI run
in a subprocess and the test that inspects it see the same containers and routes. Load
them with `FLOWGATE_PLUGINS=flowgate.testing.fakes` or `pm.register(flowgate.testing.fakes)`
and select `runtime: fake`, `proxy: fake`. Knobs (set in the state file by tests):
`fail_deploy` makes the next deploy fail unhealthy, `fail_apply` makes proxy applies fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowgate import hookimpl
from flowgate.backends.base import DeploySpec, Proxy, Route, Runtime
from flowgate.config.compose import RUNTIME_KEYS, ServiceSpec
from flowgate.errors import ReleaseFailed
from flowgate.files import write_private
from flowgate.models import Color, Instance


class _JsonState:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.path.read_text())
        return data

    def save(self, data: dict[str, Any]) -> None:
        write_private(self.path, json.dumps(data, indent=1, sort_keys=True))


def fake_state(project_dir: Path, kind: str) -> _JsonState:
    return _JsonState(project_dir / ".flowgate" / "fakes" / f"{kind}.json")


class FakeRuntime(Runtime):
    """Containers as JSON records: {key: [{"index", "state", "release", "image"}]}."""

    name = "fake"
    supported_service_options = RUNTIME_KEYS  # it runs nothing, so it takes every key

    @property
    def store(self) -> _JsonState:
        return fake_state(self.settings.project_dir, "runtime")

    def check(self) -> None:
        pass

    def _key(self, project: str, target: str, color: Color) -> str:
        return f"{project}_{target}-{color}"

    def instances(self, project: str, target: str, color: Color) -> list[Instance]:
        key = self._key(project, target, color)
        records = self.store.load().get("containers", {}).get(key, [])
        return [
            Instance(
                name=f"{key}_{r['index']}",
                address=f"127.0.0.1:{20000 + r['index']}" if r["state"] == "running" else "",
                state=r["state"],
                healthy=r["state"] == "running",
                color=color,
                id=f"{key}_{r['index']}" + (f".{r['serial']}" if "serial" in r else ""),
                image=str(r.get("image") or ""),
                release=str(r.get("release") or ""),
            )
            for r in sorted(records, key=lambda r: r["index"])
        ]

    def _write(self, spec: DeploySpec, records: list[dict[str, Any]]) -> list[Instance]:
        data = self.store.load()
        for record in records:  # a new container has a new id, like Docker's
            if "serial" not in record:
                record["serial"] = data["serial"] = data.get("serial", 0) + 1
        data.setdefault("containers", {})[self._key(spec.project, spec.target, spec.color)] = (
            records
        )
        data.setdefault("calls", []).append([spec.color, len(records)])
        self.store.save(data)
        return self.instances(spec.project, spec.target, spec.color)

    def deploy(self, spec: DeploySpec) -> list[Instance]:
        data = self.store.load()
        if data.pop("fail_before_deploy", False):  # like a missing image: nothing touched
            self.store.save(data)
            raise ReleaseFailed(f"image of {spec.target} not found")
        if data.pop("fail_deploy", False):
            data.get("containers", {}).pop(self._key(spec.project, spec.target, spec.color), None)
            self.store.save(data)
            raise ReleaseFailed(f"{spec.target}-{spec.color}_1 did not become healthy")
        records = [
            {
                "index": i,
                "state": "running",
                "release": spec.release_id,
                "image": spec.service.image,
            }
            for i in range(1, spec.count + 1)
        ]
        return self._write(spec, records)

    def scale(self, spec: DeploySpec) -> list[Instance]:
        key = self._key(spec.project, spec.target, spec.color)
        records = self.store.load().get("containers", {}).get(key, [])[: spec.count]
        for index in range(len(records) + 1, spec.count + 1):
            records.append(
                {
                    "index": index,
                    "state": "running",
                    "release": spec.release_id,
                    "image": spec.service.image,
                }
            )
        return self._write(spec, records)

    def start(self, spec: DeploySpec) -> list[Instance]:
        key = self._key(spec.project, spec.target, spec.color)
        records = self.store.load().get("containers", {}).get(key, [])
        if not records:
            raise ReleaseFailed(f"no instances of {key} to start")
        return self._write(spec, [{**r, "state": "running"} for r in records])

    def stop(self, project: str, target: str, color: Color) -> None:
        data = self.store.load()
        key = self._key(project, target, color)
        records = data.get("containers", {}).get(key, [])
        data.setdefault("containers", {})[key] = [{**r, "state": "exited"} for r in records]
        self.store.save(data)

    def remove(self, project: str, target: str, color: Color) -> None:
        data = self.store.load()
        data.get("containers", {}).pop(self._key(project, target, color), None)
        self.store.save(data)

    def ensure_side_target(self, project: str, service: ServiceSpec, pull: bool) -> None:
        data = self.store.load()
        sides = data.setdefault("side_targets", {})
        sides[service.name] = sides.get(service.name, 0) + (0 if service.name in sides else 1)
        self.store.save(data)

    def teardown(self, project: str, side_targets: list[str]) -> None:
        data = self.store.load()
        for name in side_targets:
            data.get("side_targets", {}).pop(name, None)
        self.store.save(data)


class FakeProxy(Proxy):
    """Records every applied route; `routes[service]` is what it serves now."""

    name = "fake"

    @property
    def store(self) -> _JsonState:
        return fake_state(self.settings.project_dir, "proxy")

    def check(self) -> None:
        pass

    def apply(self, route: Route) -> None:
        data = self.store.load()
        if data.get("fail_apply"):
            raise ReleaseFailed("fake proxy: apply refused")
        served = {
            "live_color": route.live_color,
            "live": [i.address for i in route.live],
            "preview_color": route.preview_color,
            "preview": [i.address for i in route.preview],
        }
        data.setdefault("routes", {})[route.service] = served
        data.setdefault("public", {})[route.service] = {
            "paths": list(route.paths),
            "domains": list(route.domains),
        }
        data.setdefault("history", []).append({"service": route.service, **served})
        self.store.save(data)

    def remove(self, service: str) -> None:
        data = self.store.load()
        data.get("routes", {}).pop(service, None)
        self.store.save(data)

    def preview_url(self, route: Route) -> str | None:
        return f"http://{route.preview[0].address}" if route.preview else None

    def wait_drained(self, service: str, instances: list[Instance], timeout: float) -> None:
        """Records which instances were drained, so tests can tell a color was let finish."""
        data = self.store.load()
        data.setdefault("drained", []).append([service, sorted(i.address for i in instances)])
        self.store.save(data)


@hookimpl
def flowgate_backends() -> list[type[FakeRuntime] | type[FakeProxy]]:
    return [FakeRuntime, FakeProxy]
