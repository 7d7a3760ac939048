"""Docker Flow's own option tests (opts_test.go), ported: flags, FLOW_* variables,
docker-flow.yml, their precedence and Docker Flow's processing of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowgate.dockerflow.flags import parse_args
from flowgate.dockerflow.options import DockerFlowOptions, resolve
from flowgate.errors import ConfigError, UsageError


def options(
    folder: Path, *args: str, env: dict[str, str] | None = None, yml: str | None = None
) -> DockerFlowOptions:
    if yml is not None:
        (folder / "docker-flow.yml").write_text(yml)
    return resolve(folder, parse_args(list(args)), env or {})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "myProjectDir"
    path.mkdir()
    return path


# -- ProcessOpts ------------------------------------------------------------------------


def test_project_defaults_to_the_folder_name_case_kept(folder: Path) -> None:
    assert options(folder, "-t", "app").project == "myProjectDir"


def test_project_given_is_kept(folder: Path) -> None:
    assert options(folder, "-t", "app", "-p", "myProject").project == "myProject"


def test_target_is_required(folder: Path) -> None:
    with pytest.raises(ConfigError, match="target is required"):
        options(folder)


def test_scale_must_be_a_number(folder: Path) -> None:
    with pytest.raises(UsageError, match="--scale: expected N, \\+N or -N"):
        options(folder, "-t", "app", "--scale", "This Is Not A Number")
    with pytest.raises(ConfigError, match="FLOW_SCALE"):
        options(folder, "-t", "app", env={"FLOW_SCALE": "two"})


@pytest.mark.parametrize("scale", ["3", "+2", "-1", "0"])
def test_scale_takes_go_atoi_numbers(folder: Path, scale: str) -> None:
    assert options(folder, "-t", "app", f"--scale={scale}").scale == scale


def test_reconf_port_defaults_to_8080(folder: Path) -> None:
    assert options(folder, "-t", "app").proxy_reconf_port == "8080"


def test_host_falls_back_to_docker_host(folder: Path) -> None:
    found = options(folder, "-t", "app", env={"DOCKER_HOST": "tcp://5.5.5.5:4444"})
    assert (found.host, found.sources["host"]) == ("tcp://5.5.5.5:4444", "DOCKER_HOST")


def test_host_precedence_flag_flow_host_yml_docker_host(folder: Path) -> None:
    env = {"DOCKER_HOST": "tcp://docker:1", "FLOW_HOST": "tcp://flow:2"}
    yml = "target: app\nhost: tcp://yml:3\n"
    assert options(folder, "-H", "tcp://flag:4", env=env, yml=yml).host == "tcp://flag:4"
    assert options(folder, env=env).host == "tcp://flow:2"
    assert options(folder, env={"DOCKER_HOST": "tcp://docker:1"}).host == "tcp://yml:3"
    (folder / "docker-flow.yml").write_text("target: app\n")
    assert options(folder, env={"DOCKER_HOST": "tcp://docker:1"}).host == "tcp://docker:1"


def test_cert_path_falls_back_to_docker_cert_path(folder: Path) -> None:
    env = {"DOCKER_CERT_PATH": "/my/cert/path"}
    assert options(folder, "-t", "app", env=env).cert_path == "/my/cert/path"
    given = options(folder, "-t", "app", "--cert-path", "/path/to/docker/cert", env=env)
    assert given.cert_path == "/path/to/docker/cert"


def test_flow_defaults_to_deploy(folder: Path) -> None:
    assert options(folder, "-t", "app").flow == ["deploy"]
    assert options(folder, yml="target: app\nflow: []\n").flow == ["deploy"]


def test_consul_templates_must_exist(folder: Path) -> None:
    with pytest.raises(UsageError, match="could not be loaded"):
        options(
            folder,
            "-t",
            "app",
            "--consul-template-fe-path=/this/path/does/not/exist",
            "--consul-template-be-path=/this/path/does/not/exist",
        )
    (folder / "fe.tmpl").write_text("frontend")
    with pytest.raises(UsageError, match="consul_template_be_path is needed too"):
        options(folder, "-t", "app", "--consul-template-fe-path=fe.tmpl")
    (folder / "be.tmpl").write_text("backend")
    found = options(
        folder,
        "-t",
        "app",
        "--consul-template-fe-path=fe.tmpl",
        "--consul-template-be-path=be.tmpl",
    )
    assert found.consul_template_fe_path == "fe.tmpl"


def test_test_compose_path_is_accepted_with_a_warning(folder: Path) -> None:
    found = options(folder, "-t", "app", "--test-compose-path", "docker-compose-test.yml")
    assert found.test_compose_path == "docker-compose-test.yml"
    assert any("has no effect" in warning for warning in found.warnings)


# -- ParseEnvVars ---------------------------------------------------------------------------

STRINGS = [
    ("host", "FLOW_HOST", "host", "H"),
    ("cert_path", "FLOW_CERT_PATH", "cert-path", None),
    ("compose_path", "FLOW_COMPOSE_PATH", "compose-path", "f"),
    ("target", "FLOW_TARGET", "target", "t"),
    ("project", "FLOW_PROJECT", "project", "p"),
    ("consul_address", "FLOW_CONSUL_ADDRESS", "consul-address", "c"),
    ("scale", "FLOW_SCALE", "scale", "s"),
    ("proxy_host", "FLOW_PROXY_HOST", "proxy-host", None),
    ("proxy_docker_host", "FLOW_PROXY_DOCKER_HOST", "proxy-docker-host", None),
    ("proxy_docker_cert_path", "FLOW_PROXY_DOCKER_CERT_PATH", "proxy-docker-cert-path", None),
    ("proxy_reconf_port", "FLOW_PROXY_RECONF_PORT", "proxy-reconf-port", None),
    ("test_compose_path", "FLOW_TEST_COMPOSE_PATH", "test-compose-path", None),
]


def _value(name: str) -> str:
    return {"scale": "7", "proxy_reconf_port": "4357"}.get(name, f"{name}FromSomewhere")


@pytest.mark.parametrize(("name", "variable", "long", "short"), STRINGS)
def test_env_strings(folder: Path, name: str, variable: str, long: str, short: str | None) -> None:
    env = {"FLOW_TARGET": "app", variable: _value(name)}
    found = options(folder, env=env)
    assert (found.values[name], found.sources[name]) == (_value(name), variable)


@pytest.mark.parametrize(("name", "variable", "long", "short"), STRINGS)
def test_flag_strings_long_and_short_both_forms(
    folder: Path, name: str, variable: str, long: str, short: str | None
) -> None:
    value = _value(name)
    base = [] if name == "target" else ["-t", "app"]
    forms = [[f"--{long}={value}"], [f"--{long}", value]]
    if short:
        forms += [[f"-{short}={value}"], [f"-{short}", value], [f"-{short}{value}"]]
    for form in forms:
        found = options(folder, *base, *form)
        assert found.values[name] == value, form
        assert found.sources[name] == f"--{long}"


@pytest.mark.parametrize("variable", ["FLOW_BLUE_GREEN", "FLOW_PULL_SIDE_TARGETS"])
@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("1", True), ("T", True), ("false", False), ("0", False)]
)
def test_env_bools_take_gos_spellings(
    folder: Path, variable: str, raw: str, expected: bool
) -> None:
    found = options(folder, "-t", "app", env={variable: raw})
    assert found.values[variable[5:].lower()] is expected


def test_env_bool_that_is_not_a_bool_is_an_error(folder: Path) -> None:
    with pytest.raises(ConfigError, match="FLOW_BLUE_GREEN: expected true or false"):
        options(folder, "-t", "app", env={"FLOW_BLUE_GREEN": "This is not a bool"})


def test_env_slices(folder: Path) -> None:
    env = {
        "FLOW_TARGET": "app",
        "FLOW_SIDE_TARGETS": "myTarget1,myTarget2",
        "FLOW": "deploy,stop-old",
        "FLOW_SERVICE_PATH": "path1,path2",
    }
    found = options(folder, env=env)
    assert found.side_targets == ["myTarget1", "myTarget2"]
    assert found.flow == ["deploy", "stop-old"]
    assert found.service_path == ["path1", "path2"]


def test_empty_variables_count_as_unset(folder: Path) -> None:
    yml = "target: app\nside_targets: [db]\nscale: '2'\nblue_green: true\n"
    env = {"FLOW_SIDE_TARGETS": "", "FLOW_SCALE": "", "FLOW_BLUE_GREEN": "", "FLOW_TARGET": ""}
    found = options(folder, env=env, yml=yml)
    assert (found.side_targets, found.scale, found.blue_green) == (["db"], "2", True)


# -- ParseArgs -----------------------------------------------------------------------------


def test_bools_long_and_short(folder: Path) -> None:
    for args in (["--blue-green", "--pull-side-targets"], ["-b", "-S"], ["-bS"]):
        found = options(folder, "-t", "app", *args)
        assert found.blue_green and found.pull_side_targets, args


def test_bool_flag_takes_no_argument(folder: Path) -> None:
    with pytest.raises(UsageError, match="cannot have an argument"):
        parse_args(["--blue-green=true"])


def test_slices_repeat_long_and_short(folder: Path) -> None:
    found = options(
        folder,
        "-t",
        "app",
        "--side-target=target1",
        "-T",
        "target2",
        "--service-path",
        "path1",
        "--service-path=path2",
        "-F=deploy",
        "--flow",
        "stop-old",
    )
    assert found.side_targets == ["target1", "target2"]
    assert found.service_path == ["path1", "path2"]
    assert found.flow == ["deploy", "stop-old"]


def test_short_target_with_equals_is_not_part_of_the_value(folder: Path) -> None:
    assert options(folder, "-t=app").target == "app"


def test_flag_slices_replace_file_and_env(folder: Path) -> None:
    yml = "target: app\nside_targets: [db]\nflow: [deploy]\n"
    found = options(folder, "-T", "cache", "-F", "proxy", env={"FLOW": "scale"}, yml=yml)
    assert (found.side_targets, found.flow) == (["cache"], ["proxy"])


def test_unknown_flag_is_an_error() -> None:
    with pytest.raises(UsageError, match="unknown flag `this-flag-does-not-exist'"):
        parse_args(["--this-flag-does-not-exist=something"])


def test_missing_value_is_an_error() -> None:
    with pytest.raises(UsageError, match="expected argument for flag `-t, --target'"):
        parse_args(["-t"])
    with pytest.raises(UsageError, match="but got option `-b'"):
        parse_args(["--target", "-b"])


def test_negative_scale_as_separate_argument() -> None:
    assert parse_args(["-s", "-1"]).values["scale"] == "-1"


def test_step_names_in_any_case(folder: Path) -> None:
    assert options(folder, "-t", "app", "-F", "Deploy", "-F", "STOP-OLD").flow == [
        "deploy",
        "stop-old",
    ]


def test_unknown_step_is_an_error(folder: Path) -> None:
    with pytest.raises(UsageError, match="unknown step 'stop_old'"):
        options(folder, "-t", "app", "-F", "stop_old")


def test_test_step_is_warned_about(folder: Path) -> None:
    found = options(folder, "-t", "app", "-F", "deploy", "-F", "test:unit")
    assert found.flow == ["deploy"]
    assert any("has no effect" in warning for warning in found.warnings)


def test_one_positional_is_the_target(folder: Path) -> None:
    assert options(folder, "app", "-b").target == "app"
    with pytest.raises(UsageError, match="unexpected arguments"):
        options(folder, "app", "db")


# -- ParseYml ------------------------------------------------------------------------------


def test_missing_file_is_fine(folder: Path) -> None:
    assert options(folder, "-t", "app").sources["target"] == "--target"


def test_malformed_file_is_an_error(folder: Path) -> None:
    with pytest.raises(ConfigError, match=r"docker-flow\.yml"):
        options(folder, yml="target: [unclosed\n")


def test_every_key_of_the_file(folder: Path) -> None:
    (folder / "fe.tmpl").write_text("fe")
    (folder / "be.tmpl").write_text("be")
    yml = """
host: hostFromYml
cert_path: certPathFromYml
compose_path: composePathFromYml
test_compose_path: testComposePathFromYml
blue_green: true
target: targetFromYml
side_targets:
  - sideTarget1FromYml
  - sideTarget2FromYml
skip_pull_target: true
pull_side_targets: true
project: projectFromYml
consul_address: consulAddressFromYml
scale: 5
proxy_host: proxyHostFromYml
proxy_docker_host: proxyDomainFromYml
proxy_docker_cert_path: proxyCertPathFromYml
proxy_reconf_port: 1245
flow:
  - deploy
  - stop-old
service_path:
  - path1
  - path2
consul_template_fe_path: fe.tmpl
consul_template_be_path: be.tmpl
"""
    found = options(folder, yml=yml)
    assert found.values == {
        "blue_green": True,
        "cert_path": "certPathFromYml",
        "compose_path": "composePathFromYml",
        "consul_address": "consulAddressFromYml",
        "consul_template_be_path": "be.tmpl",
        "consul_template_fe_path": "fe.tmpl",
        "flow": ["deploy", "stop-old"],
        "host": "hostFromYml",
        "project": "projectFromYml",
        "proxy_docker_cert_path": "proxyCertPathFromYml",
        "proxy_docker_host": "proxyDomainFromYml",
        "proxy_host": "proxyHostFromYml",
        "proxy_reconf_port": "1245",
        "pull_side_targets": True,
        "scale": "5",
        "service_path": ["path1", "path2"],
        "side_targets": ["sideTarget1FromYml", "sideTarget2FromYml"],
        "target": "targetFromYml",
        "test_compose_path": "testComposePathFromYml",
    }
    # skip_pull_target was never one of Docker Flow's keys: warned, not fatal.
    assert any("unknown key 'skip_pull_target'" in warning for warning in found.warnings)


# -- GetOpts: precedence -------------------------------------------------------------------


def test_precedence_file_then_env_then_flags(folder: Path) -> None:
    yml = "target: fromYml\nscale: '1'\nproject: fromYml\n"
    env = {"FLOW_SCALE": "2", "FLOW_PROJECT": "fromEnv"}
    found = options(folder, "--scale=3", env=env, yml=yml)
    assert (found.target, found.project, found.scale) == ("fromYml", "fromEnv", "3")
    assert found.compose_path == "docker-compose.yml"
