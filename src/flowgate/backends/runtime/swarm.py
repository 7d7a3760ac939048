"""The `swarm` runtime: each instance of a color is its own one-task Swarm-mode service.

Instance N of a color is the service `<project>_<target>-<color>-<N>` (label
`io.flowgate.slot=N`, one replica), known to the proxy and `status` as
`<project>_<target>-<color>.<N>`. One service per instance, rather than one service with N
replicas, is what lets flowgate decide which instances a scale-down removes: Swarm picks
the tasks to drop from a replicated service itself, so the proxy could still be sending
requests to the one it takes. Here the engine takes the highest slots out of the proxy
and this runtime removes exactly those services. Swarm still places every task (the
Compose `deploy` settings as constraints, resources, restart policy) and replaces a task
whose node is lost.

Services run on the project's attachable overlay network `<project>_default`, where side
targets run as ordinary services `<project>_<side>` reachable by their Compose name. Ports
are published in host mode, so the proxy reaches every task at its node's address and its
own host port. Stopping a color scales its services to 0: they keep their image and
settings, so `start` (a rollback) brings back exactly that release at its scale. Services
are found by their `io.flowgate.*` labels, never by name. Reading and waiting on services
is in swarm_services.py; this module is the color lifecycle.
"""

from __future__ import annotations

import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar

from flowgate import hookimpl
from flowgate.backends.base import DeploySpec, Runtime
from flowgate.backends.runtime.docker_engine import STOP_TIMEOUT, parallel
from flowgate.backends.runtime.docker_setup import ensure_image, image_name
from flowgate.backends.runtime.swarm_services import (
    LABEL,
    SLOT,
    SwarmServices,
    instance_base,
    slot_of,
)
from flowgate.backends.runtime.swarm_spec import (
    ensure_overlay_networks,
    network_attachments,
    network_names,
    remove_network,
    service_options,
)
from flowgate.config.keys import Key
from flowgate.errors import ReleaseFailed
from flowgate.models import Color, Instance

if TYPE_CHECKING:
    from docker.models.services import Service

    from flowgate.config.compose import ServiceSpec

#: Seconds `teardown` waits for removed services' tasks to leave the project's networks.
NETWORK_WAIT = 30.0


class SwarmRuntime(SwarmServices, Runtime):
    """Runs each instance of a color as a one-task Swarm-mode service."""

    name = "swarm"
    config_keys: ClassVar[tuple[Key, ...]] = (STOP_TIMEOUT,)

    # -- the color lifecycle ---------------------------------------------------------------

    def _image(self, project: str, service: ServiceSpec, pull: bool) -> str:
        """A `build` is built on this engine; any other image is the nodes' business (a
        task that cannot find it fails with "No such image", which ends the wait at once)."""
        if service.build is not None or pull:
            return ensure_image(self.client, project, service, pull=pull)
        return image_name(project, service)

    def _options(
        self, project: str, service: ServiceSpec, environment: dict[str, str]
    ) -> dict[str, Any]:
        """Service options from the Compose service; raises ConfigError (nothing created
        yet) for a `deploy` key the swarm runtime cannot honour."""
        return service_options(
            project,
            self.settings.project_dir,
            service,
            environment,
            float(self.settings.stop_timeout),
        )

    def _create(
        self,
        name: str,
        image: str,
        project: str,
        service: ServiceSpec,
        options: dict[str, Any],
        labels: dict[str, str],
        replicas: int,
    ) -> Service:
        """One service; the project's overlay networks must exist already (created once
        before instances are created in parallel, which would race to create them)."""
        from docker.types import ServiceMode

        networks = network_names(project, service)
        options = dict(options)
        own = options.pop("labels", {})
        return self.client.services.create(
            image,
            name=name,
            labels={**own, **labels},
            container_labels={**service.labels, **labels},
            mode=ServiceMode("replicated", replicas=replicas),
            networks=network_attachments(networks, service.name),
            **options,
        )

    def deploy(self, spec: DeploySpec) -> list[Instance]:
        environment = {"FLOWGATE_COLOR": str(spec.color), "FLOWGATE_RELEASE": spec.release_id}
        options = self._options(spec.project, spec.service, environment)
        with self._swarm_errors(f"deploying {spec.target}-{spec.color}"):
            image = self._image(spec.project, spec.service, pull=False)
            self.remove(spec.project, spec.target, spec.color)
            labels = {
                f"{LABEL}project": spec.project,
                f"{LABEL}target": spec.target,
                f"{LABEL}color": str(spec.color),
                f"{LABEL}release": spec.release_id,
                f"{LABEL}port": spec.service.main_port or "",
            }
            base = f"{spec.project}_{spec.target}-{spec.color}"
            ensure_overlay_networks(self.client, spec.project, spec.service)
            created: list[Service] = []

            def create(slot: int) -> Service:
                made = self._create(
                    f"{base}-{slot}",
                    image,
                    spec.project,
                    spec.service,
                    options,
                    {**labels, SLOT: str(slot)},
                    1,
                )
                created.append(made)
                return made

            try:
                services = parallel(create, range(1, spec.count + 1))
                parallel(
                    lambda s: self._wait(s, spec.color, 1, set(), spec.health_timeout), services
                )
            except ReleaseFailed as err:
                self._remove_all(created)
                raise ReleaseFailed(f"{spec.target}-{spec.color}: {err}") from err
            except BaseException:
                self._remove_all(created)
                raise
        return self.instances(spec.project, spec.target, spec.color)

    def _copy(self, model: Service, slot: int) -> Service:
        """A new instance service of the same release as `model` (scale keeps the live
        release, not what the Compose file names today)."""
        from docker.types import ServiceMode

        spec = model.attrs["Spec"]
        template = dict(spec["TaskTemplate"])
        if template.get("Runtime") == "container":
            del template["Runtime"]
        answer = self.client.api.create_service(
            template,
            name=f"{instance_base(model)}-{slot}",
            labels={**(spec.get("Labels") or {}), SLOT: str(slot)},
            mode=ServiceMode("replicated", replicas=1),
            update_config=spec.get("UpdateConfig"),
            rollback_config=spec.get("RollbackConfig"),
            endpoint_spec=spec.get("EndpointSpec"),
        )
        return self.client.services.get(answer["ID"])

    def scale(self, spec: DeploySpec) -> list[Instance]:
        """Add slots above the highest, or remove the highest slots: the engine has taken
        exactly those out of the proxy before calling this."""
        with self._swarm_errors(f"scaling {spec.target}-{spec.color}"):
            slots = self._slots(spec.project, spec.target, spec.color)
            if not slots:
                raise ReleaseFailed(
                    f"no {spec.color} instances of {spec.target} to scale; deploy it instead"
                )
            if spec.count < len(slots):
                self._remove_all(self._surplus(slots, spec.color, spec.count))
            top = slot_of(slots[-1])
            added = [top + n for n in range(1, spec.count - len(slots) + 1)]
            if added:
                created = parallel(lambda slot: self._copy(slots[0], slot), added)
                try:
                    parallel(
                        lambda s: self._wait(s, spec.color, 1, set(), spec.health_timeout),
                        created,
                    )
                except ReleaseFailed as err:
                    self._remove_all(created)
                    raise ReleaseFailed(f"{spec.target}-{spec.color}: {err}") from err
        return self.instances(spec.project, spec.target, spec.color)

    def _surplus(self, slots: list[Service], color: Color, count: int) -> list[Service]:
        """The instance services a scale-down to `count` removes: all but the lowest
        `count` running ones, the ones not running (a lost node's) first. That is exactly
        what the proxy dropped: the engine keeps the first `count` running instances."""
        nodes = self._nodes()
        running = [s for s in slots if self._instance(s, color, nodes).running]
        idle = [s for s in slots if s not in running]
        keep = running[:count] + idle[: max(0, count - len(running))]
        return [s for s in slots if s not in keep]

    def start(self, spec: DeploySpec) -> list[Instance]:
        """Bring every stopped instance service of the color back (its own release)."""
        with self._swarm_errors(f"starting {spec.target}-{spec.color}"):
            slots = self._slots(spec.project, spec.target, spec.color)
            if not slots:
                raise ReleaseFailed(
                    f"no {spec.color} instances of {spec.target} to start; deploy it instead"
                )

            def start_one(service: Service) -> None:
                known = {str(t.get("ID")) for t in self._tasks(service)}
                if self._replicas(service) == 0:
                    self._set_replicas(service, 1)
                self._wait(service, spec.color, 1, known, spec.health_timeout)

            try:
                parallel(start_one, slots)
            except ReleaseFailed as err:
                raise ReleaseFailed(f"{spec.target}-{spec.color}: {err}") from err
        return self.instances(spec.project, spec.target, spec.color)

    def stop(self, project: str, target: str, color: Color) -> None:
        with self._swarm_errors(f"stopping {target}-{color}"):
            slots = self._slots(project, target, color)
            parallel(lambda s: self._set_replicas(s, 0) if self._replicas(s) else None, slots)
            self._wait_stopped(slots)

    @staticmethod
    def _remove_all(services: list[Service]) -> None:
        import docker

        def remove(service: Service) -> None:
            with suppress(docker.errors.NotFound):
                service.remove()

        parallel(remove, services)

    def remove(self, project: str, target: str, color: Color) -> None:
        with self._swarm_errors(f"removing {target}-{color}"):
            self._remove_all(self._services(project=project, target=target, color=str(color)))

    def ensure_side_target(self, project: str, service: ServiceSpec, pull: bool) -> None:

        with self._swarm_errors(f"starting side target {service.name}"):
            found = self._services(project=project, **{"side-target": service.name})
            if found:
                existing = found[0]
                if self._replicas(existing) == 0:  # someone stopped it: bring it back
                    self._set_replicas(existing, service.replicas or 1)
                return
            options = self._options(project, service, {})
            labels = {f"{LABEL}project": project, f"{LABEL}side-target": service.name}
            image = self._image(project, service, pull)
            name = f"{project}_{service.name}"
            ensure_overlay_networks(self.client, project, service)
            self._create(name, image, project, service, options, labels, service.replicas or 1)

    def teardown(self, project: str, side_targets: list[str]) -> None:
        """`flowgate down`: the side-target services flowgate started, then the project's
        overlay networks once no service of the project is left. Swarm stops a removed
        service's tasks on its own time: a manager takes a network whose tasks are still
        stopping as pending and deletes it after them; an engine that refuses instead is
        asked again for up to NETWORK_WAIT seconds."""
        with self._swarm_errors("removing side targets and networks"):
            for side in side_targets:
                self._remove_all(self._services(project=project, **{"side-target": side}))
            if self._services(project=project):
                return  # another target of the project still runs on them
            deadline = time.monotonic() + NETWORK_WAIT
            label = f"{LABEL}project={project}"
            for network in self.client.networks.list(filters={"label": label}):
                remove_network(network, deadline)


@hookimpl
def flowgate_backends() -> list[type[Runtime]]:
    return [SwarmRuntime]
