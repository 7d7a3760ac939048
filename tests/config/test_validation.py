"""Every setting is checked while loading, before any command touches anything: one-line
errors naming the source and the key, exit 4 from a file or variable, 2 from a flag."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from flowgate.config.names import compose_project_name, docker_name_problem
from flowgate.config.scale import parse_scale
from flowgate.config.settings import CORE_KEYS, Settings, load_settings
from flowgate.config.values import MAX_SCALE, MAX_SECONDS
from flowgate.errors import ConfigError, ExitCode, UsageError


def env_error(tmp_path: Path, var: str, value: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, {}, {var: value})
    assert info.value.exit_code is ExitCode.CONFIG
    return str(info.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "0s", "1e400", "true", ""])
def test_lock_ttl_must_be_finite_and_positive(tmp_path: Path, value: str) -> None:
    """`lock_ttl: 0` would turn the lock off: it is refused, like nan and negatives."""
    if value == "":
        assert load_settings(tmp_path, {}, {"FLOWGATE_LOCK_TTL": ""}).lock_ttl == 60.0
        return
    message = env_error(tmp_path, "FLOWGATE_LOCK_TTL", value)
    assert message.startswith("FLOWGATE_LOCK_TTL: lock_ttl: expected ")


def test_lock_ttl_zero_in_the_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "flowgate.yml").write_text("lock_ttl: 0\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, {}, {})
    assert str(info.value) == "flowgate.yml: lock_ttl: expected a number of seconds > 0, got 0"


@pytest.mark.parametrize("key", ["health_timeout", "lock_ttl"])
def test_zero_is_refused_where_it_means_nothing(tmp_path: Path, key: str) -> None:
    assert "> 0" in env_error(tmp_path, f"FLOWGATE_{key.upper()}", "0")


@pytest.mark.parametrize("key", ["drain_timeout", "timeout"])
def test_zero_is_accepted_where_it_means_no_wait(tmp_path: Path, key: str) -> None:
    settings = load_settings(tmp_path, {}, {f"FLOWGATE_{key.upper()}": "0"})
    assert getattr(settings, key) == 0.0
    assert "finite" in env_error(tmp_path, f"FLOWGATE_{key.upper()}", "nan")


def test_durations_have_a_documented_maximum(tmp_path: Path) -> None:
    message = env_error(tmp_path, "FLOWGATE_HEALTH_TIMEOUT", str(MAX_SECONDS + 1))
    assert f"at most {MAX_SECONDS:g} seconds" in message


def test_a_bad_duration_flag_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^--timeout: expected a finite number of seconds"):
        load_settings(tmp_path, {"timeout": "nan"}, {})


@pytest.mark.parametrize("text", ["99999999999999999999", str(MAX_SCALE + 1), "+1001", "9" * 5000])
def test_a_huge_scale_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"^expected "):
        parse_scale(text)


def test_scale_arithmetic_past_the_maximum_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=rf"more than the maximum of {MAX_SCALE}"):
        parse_scale("+10").apply(MAX_SCALE - 5)
    assert parse_scale("+5").apply(MAX_SCALE - 5) == MAX_SCALE


def test_scale_of_a_damaged_current_count_is_refused_not_computed() -> None:
    """A negative current count must never become a target count (it used to remove
    every live instance)."""
    with pytest.raises(UsageError):
        parse_scale("+1").apply(-5)


def test_scale_in_the_file_past_the_maximum_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "flowgate.yml").write_text("scale: 99999999999999999999\n")
    with pytest.raises(ConfigError, match=r"^flowgate.yml: scale: expected at most 1000"):
        load_settings(tmp_path, {}, {})


@pytest.mark.parametrize(
    "path",
    ["api", "/a b", "/a\nuse_backend x", "/a#b", "/a'b", '/a"b', "/a$b", "/é", "/" + "a" * 600],
)
def test_service_paths_that_could_inject_configuration_are_refused(
    tmp_path: Path, path: str
) -> None:
    with pytest.raises(UsageError, match=r"^--service-path: "):
        load_settings(tmp_path, {"service_path": [path]}, {})


def test_a_service_path_with_a_comma_is_one_path_from_a_flag(tmp_path: Path) -> None:
    assert load_settings(tmp_path, {"service_path": ["/a,b"]}, {}).service_path == ["/a,b"]


@pytest.mark.parametrize(
    "domain", ["exa mple.com", "a..b", "-a.com", "a.com\n", "*.*.a", "a_b.com"]
)
def test_bad_domains_are_refused(tmp_path: Path, domain: str) -> None:
    (tmp_path / "flowgate.yml").write_text(f"service_domain: [{domain!r}]\n")
    with pytest.raises(ConfigError, match=r"^flowgate.yml: service_domain: "):
        load_settings(tmp_path, {}, {})


def test_domains_are_lowercased_and_wildcards_allowed(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {}, {"FLOWGATE_SERVICE_DOMAIN": "Books.Example.com,*.a.io"})
    assert settings.service_domain == ["books.example.com", "*.a.io"]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("FLOW_TARGET", "app one"),
        ("FLOW_SIDE_TARGETS", "db,-x"),
        ("FLOWGATE_PUBLISH_ADDRESS", "localhost"),
        ("FLOW_HOST", "docker.example.com"),
        ("FLOWGATE_PYTEST_ARGS", "-k 'unclosed"),
        ("FLOW_COMPOSE_PATH", "a\nb"),
    ],
)
def test_other_values_are_checked_on_load(tmp_path: Path, var: str, value: str) -> None:
    assert env_error(tmp_path, var, value).startswith(f"{var}: ")


# -- project names ---------------------------------------------------------------------


def settings_for(folder: Path, **changes: object) -> Settings:
    return load_settings(folder, {}, {}).replace(**changes)


@pytest.mark.parametrize("name", ["Books", "books!", "-books", "_books", "bo.oks", "b" * 64])
def test_an_explicit_project_name_is_checked_not_rewritten(tmp_path: Path, name: str) -> None:
    settings = load_settings(tmp_path, {}, {"FLOW_PROJECT": name})
    with pytest.raises(ConfigError) as info:
        compose_project_name(settings)
    assert str(info.value).startswith(f"FLOW_PROJECT: project: {name!r} is not a valid project")
    flagged = load_settings(tmp_path, {"project": name}, {})
    with pytest.raises(UsageError, match=r"^--project: "):
        compose_project_name(flagged)


@pytest.mark.parametrize("name", ["books", "books-ms", "books_ms", "1books", "b" * 63])
def test_valid_project_names_are_kept(tmp_path: Path, name: str) -> None:
    assert compose_project_name(load_settings(tmp_path, {"project": name}, {})) == name


@pytest.mark.parametrize(
    ("folder", "expected"),
    [("Books-MS", "books-ms"), ("my.project", "myproject"), ("__x y", "xy"), ("été2", "t2")],
)
def test_the_default_from_the_folder_is_normalised_as_compose_does(
    tmp_path: Path, folder: str, expected: str
) -> None:
    (tmp_path / folder).mkdir()
    assert compose_project_name(load_settings(tmp_path / folder, {}, {})) == expected


def test_a_folder_name_with_nothing_usable_asks_for_a_name(tmp_path: Path) -> None:
    (tmp_path / "___").mkdir()
    with pytest.raises(ConfigError, match="cannot derive a project name"):
        compose_project_name(load_settings(tmp_path / "___", {}, {}))


def test_docker_flow_keeps_the_case_but_refuses_what_docker_cannot_name() -> None:
    assert docker_name_problem("Books") is None
    assert docker_name_problem("My.Project_1-a") is None
    for bad in ("bo oks", "-books", "x" * 64, ""):
        assert "cannot be part of a Docker name" in str(docker_name_problem(bad))


# -- one definition per key --------------------------------------------------------------


def test_every_core_key_is_a_typed_field_with_help_and_a_checked_default(tmp_path: Path) -> None:
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    for key in CORE_KEYS:
        assert key.help, key.name
        assert fields[key.name].type, key.name
        if key.default is not None:
            assert key.parse(key.default) == key.default, key.name  # defaults pass checks


def test_a_backend_reads_its_own_default_without_restating_it(tmp_path: Path) -> None:
    from flowgate.backends.runtime.docker import DockerRuntime

    runtime = DockerRuntime(load_settings(tmp_path, {}, {}))  # loaded without its keys
    assert runtime.settings.stop_timeout == 10.0


def test_an_undeclared_setting_is_an_attribute_error(tmp_path: Path) -> None:
    with pytest.raises(AttributeError, match="declare it as a Key"):
        _ = load_settings(tmp_path, {}, {}).no_such_key


def test_both_config_files_are_read_flowgate_yml_winning_key_by_key(tmp_path: Path) -> None:
    (tmp_path / "docker-flow.yml").write_text("target: old\nside_targets: [db]\n")
    (tmp_path / "flowgate.yml").write_text("target: new\n")
    settings = load_settings(tmp_path, {}, {})
    assert (settings.target, settings.side_targets) == ("new", ["db"])
    assert settings.sources["side_targets"] == "docker-flow.yml"
