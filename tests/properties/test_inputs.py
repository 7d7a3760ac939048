"""Property tests: whatever the input, flowgate's readers answer with a value inside its
documented range or with flowgate's own one-line error; never a traceback (any other
exception), never a value that injects a line into a proxy configuration."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import NASTY, NUMBERS, values

from flowgate.config.compose import load_compose
from flowgate.config.scale import parse_scale
from flowgate.config.settings import CORE_KEYS, Settings, load_settings
from flowgate.config.values import MAX_SCALE, MAX_SECONDS, check_domain, check_path
from flowgate.errors import ConfigError, FlowgateError, UsageError

#: Examples per property: 150 in the suite; raise it for a longer hunt
#: (FLOWGATE_HYPOTHESIS_EXAMPLES=5000 pytest tests/properties).
PROPERTY = settings(
    max_examples=int(os.environ.get("FLOWGATE_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
KEY_NAMES = [key.name for key in CORE_KEYS]
#: Characters no value may carry into a proxy configuration line.
UNSAFE = set(" \t\r\n#'\"$\\{}\x00\x7f") | {chr(c) for c in range(32)}


def in_range(settings_: Settings) -> None:
    """What a loaded Settings promises: typed values inside their bounds."""
    for name in ("health_timeout", "lock_ttl"):
        assert 0 < getattr(settings_, name) <= MAX_SECONDS
    for name in ("drain_timeout", "timeout"):
        assert 0 <= getattr(settings_, name) <= MAX_SECONDS
    for name in ("proxy_port", "preview_port", "proxy_reconf_port"):
        assert 0 < getattr(settings_, name) < 65536
    for value in (*settings_.service_path, *settings_.service_domain):
        assert not UNSAFE & set(value), value
    if settings_.scale is not None:
        assert int(settings_.scale.lstrip("+-")) <= MAX_SCALE


@PROPERTY
@given(st.dictionaries(st.one_of(st.sampled_from(KEY_NAMES), NASTY), values(), max_size=6))
def test_the_config_file_loader(content: dict[Any, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "flowgate.yml").write_text(yaml.safe_dump(content), encoding="utf-8")
        try:
            loaded = load_settings(Path(folder), {}, {})
        except ConfigError as err:
            assert "\n" not in str(err).strip()
            return
        in_range(loaded)


@PROPERTY
@given(st.dictionaries(st.sampled_from([k.env_var for k in CORE_KEYS]), NASTY, max_size=6))
def test_the_environment_loader(env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            loaded = load_settings(Path(folder), {}, env)
        except ConfigError:
            return
        in_range(loaded)


@PROPERTY
@given(st.dictionaries(st.sampled_from(KEY_NAMES), values(4), max_size=4))
def test_flags(flags: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            loaded = load_settings(Path(folder), flags, {})
        except UsageError as err:
            assert str(err).startswith("--")
            return
        in_range(loaded)


@PROPERTY
@given(st.one_of(NASTY, NUMBERS.map(str), st.integers().map(lambda n: f"+{n}")))
def test_the_scale_parser(text: str) -> None:
    try:
        spec = parse_scale(text)
    except ValueError:
        return
    assert 0 <= spec.amount <= MAX_SCALE
    for current in (None, 1, MAX_SCALE):
        try:
            count = spec.apply(current)
        except UsageError:
            continue
        assert 1 <= count <= MAX_SCALE


SERVICE_KEYS = st.sampled_from(
    [
        "image",
        "build",
        "command",
        "entrypoint",
        "environment",
        "env_file",
        "ports",
        "expose",
        "labels",
        "healthcheck",
        "depends_on",
        "container_name",
        "networks",
        "volumes",
        "deploy",
    ]
)


@PROPERTY
@given(
    st.one_of(
        values(),
        st.fixed_dictionaries(
            {"services": st.dictionaries(NASTY, st.dictionaries(SERVICE_KEYS, values(6)))}
        ),
        # An image, so the reader gets past "needs an image" to every other key.
        st.fixed_dictionaries(
            {
                "services": st.dictionaries(
                    NASTY,
                    st.dictionaries(SERVICE_KEYS, values(6)).map(lambda b: {**b, "image": "x"}),
                    min_size=1,
                )
            }
        ),
    ),
    st.dictionaries(NASTY.filter(lambda k: k and "=" not in k and "\x00" not in k), NASTY),
)
def test_the_compose_reader(content: Any, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "docker-compose.yml"
        path.write_text(yaml.safe_dump(content), encoding="utf-8")
        try:
            load_compose(path, env)
        except FlowgateError as err:
            assert err.exit_code == 4, err
            assert "\n" not in str(err).strip()


STATE = st.fixed_dictionaries(
    {
        "service": st.one_of(st.just("p-app"), values(2)),
        "live_color": st.one_of(st.sampled_from(["blue", "green", None]), values(2)),
        "deployed_color": st.one_of(st.sampled_from(["blue", "green", None]), values(2)),
        "scale": st.one_of(st.integers(min_value=-5, max_value=2000), values(2)),
        "release_id": st.one_of(st.none(), NASTY, values(2)),
    }
)


@PROPERTY
@given(st.one_of(STATE, values()), st.one_of(st.integers(-3, 10**20), values(2)))
def test_the_state_loader(state: Any, version: Any) -> None:
    from flowgate.backends.registry.file import FileRegistry

    with tempfile.TemporaryDirectory() as folder:
        registry = FileRegistry(load_settings(Path(folder), {}, {}))
        path = Path(folder) / ".flowgate" / "registry" / "p-app" / "state.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"version": version, "state": state}))
        try:
            loaded = registry.load_state("p-app")
        except ConfigError as err:
            assert str(err).startswith(str(path))
            return
        assert loaded.service == "p-app"
        assert loaded.scale is None or 1 <= loaded.scale <= MAX_SCALE
        assert {loaded.live_color, loaded.deployed_color} <= {None, "blue", "green"}


@PROPERTY
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "service",
                "target",
                "color",
                "instances",
                "state",
                "steps",
                "tests",
                "started",
                "ended",
                "images",
                "error",
                "route",
                "restore",
                "restores",
            ]
        ),
        st.one_of(
            values(4),
            st.fixed_dictionaries(
                {"paths": st.lists(NASTY.map(lambda t: "/" + t)), "domains": st.lists(NASTY)}
            ),
        ),
    )
)
def test_the_release_record_loader(record: dict[str, Any]) -> None:
    from flowgate.backends.registry.file import FileRegistry

    base = {"id": "r1", "service": "p-app", "target": "app", "started": "2026-01-01T00:00:00"}
    with tempfile.TemporaryDirectory() as folder:
        registry = FileRegistry(load_settings(Path(folder), {}, {}))
        path = Path(folder) / ".flowgate" / "registry" / "p-app" / "releases" / "r1.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({**base, **record}))
        try:
            releases = registry.releases("p-app")
        except ConfigError:
            return
        for release in releases:
            assert 0 <= release.instances <= MAX_SCALE
            release.duration  # noqa: B018  (times parse)
            route = release.route or {}
            for value in (*route.get("paths", []), *route.get("domains", [])):
                assert not UNSAFE & set(value), value


# -- values that reach a proxy configuration -------------------------------------------------


@PROPERTY
@given(NASTY)
def test_accepted_paths_and_domains_carry_nothing_a_config_parser_treats_specially(
    text: str,
) -> None:
    for check in (check_path, check_domain):
        try:
            value = check(text)
        except ValueError:
            continue
        assert not UNSAFE & set(value), value
        assert value.isascii()


@PROPERTY
@given(
    st.lists(NASTY.map(lambda t: "/" + t), min_size=1, max_size=3),
    st.lists(NASTY, max_size=2),
)
def test_no_value_injects_a_line_into_the_haproxy_configuration(
    paths: list[str], domains: list[str]
) -> None:
    """A route built from accepted settings renders exactly the lines a plain route does."""
    from flowgate.backends.proxy import haproxy_config as hc

    try:
        with tempfile.TemporaryDirectory() as folder:
            loaded = load_settings(
                Path(folder), {"service_path": paths, "service_domain": domains}, {}
            )
    except UsageError:
        return
    options = hc.RenderOptions("127.0.0.1", 8000, 8001, "/tmp/admin.sock")

    def rendered(route_paths: tuple[str, ...], route_domains: tuple[str, ...]) -> list[str]:
        entry = hc.ServiceEntry("p-app", route_paths, route_domains, "blue", None, ("127.0.0.1:1",))
        return hc.render({"p-app": entry}, options).splitlines()

    text = rendered(tuple(loaded.service_path), tuple(loaded.service_domain))
    plain = rendered(
        tuple(f"/p{i}" for i in range(len(loaded.service_path))),
        tuple(f"d{i}.example" for i in range(len(loaded.service_domain))),
    )
    assert len(text) == len(plain)
    assert [line.split()[:1] for line in text] == [line.split()[:1] for line in plain]
    # Each path is one token on exactly the lines its plain stand-in is on.
    for index, path in enumerate(loaded.service_path):
        here = [n for n, line in enumerate(text) if path in line.split()]
        there = [n for n, line in enumerate(plain) if f"/p{index}" in line.split()]
        assert len(here) >= len(there) > 0
