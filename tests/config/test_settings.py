from __future__ import annotations

from pathlib import Path

import pytest

from flowgate.config.keys import Key, parse_int
from flowgate.config.settings import load_settings
from flowgate.errors import ConfigError, ExitCode, UsageError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {}, {})
    assert settings.target is None
    assert settings.registry == "file"
    assert settings.proxy == "none"
    assert settings.compose_path == "docker-compose.yml"
    assert settings.sources["registry"] == "default"


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    write(tmp_path / "flowgate.yml", "target: from-file\nscale: '3'\nproxy_port: 9000\n")
    env = {"FLOW_TARGET": "from-env", "FLOW_SCALE": "+1"}
    settings = load_settings(tmp_path, {"target": "from-flag"}, env)
    assert settings.target == "from-flag"
    assert settings.sources["target"] == "flag"
    assert settings.scale == "+1"
    assert settings.sources["scale"] == "FLOW_SCALE"
    assert settings.proxy_port == 9000
    assert settings.sources["proxy_port"] == "flowgate.yml"
    assert settings.preview_port == 8081


def test_docker_flow_yml_is_read_when_flowgate_yml_is_absent(tmp_path: Path) -> None:
    write(tmp_path / "docker-flow.yml", "target: books\nside_targets: [db]\nblue_green: true\n")
    settings = load_settings(tmp_path, {}, {})
    assert settings.target == "books"
    assert settings.side_targets == ["db"]
    assert settings.config_file == tmp_path / "docker-flow.yml"


def test_flowgate_yml_wins_over_docker_flow_yml(tmp_path: Path) -> None:
    write(tmp_path / "docker-flow.yml", "target: old\n")
    write(tmp_path / "flowgate.yml", "target: new\n")
    assert load_settings(tmp_path, {}, {}).target == "new"


def test_env_lists_are_comma_separated(tmp_path: Path) -> None:
    env = {"FLOW_SIDE_TARGETS": "db, cache", "FLOW_SERVICE_PATH": "/api/v1/books,/api/v2"}
    settings = load_settings(tmp_path, {}, env)
    assert settings.side_targets == ["db", "cache"]
    assert settings.service_path == ["/api/v1/books", "/api/v2"]


def test_flowgate_prefixed_env_for_new_keys(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path, {}, {"FLOWGATE_PROXY": "haproxy", "FLOWGATE_HEALTH_TIMEOUT": "12s"}
    )
    assert settings.proxy == "haproxy"
    assert settings.health_timeout == 12.0


def test_docker_host_is_the_fallback_for_host(tmp_path: Path) -> None:
    assert load_settings(tmp_path, {}, {"DOCKER_HOST": "tcp://a:2375"}).host == "tcp://a:2375"
    both = {"DOCKER_HOST": "tcp://a:2375", "FLOW_HOST": "tcp://b:2375"}
    assert load_settings(tmp_path, {}, both).host == "tcp://b:2375"


def test_bad_file_value_names_file_and_key(tmp_path: Path) -> None:
    write(tmp_path / "flowgate.yml", "scale: two\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, {}, {})
    assert str(info.value) == "flowgate.yml: scale: expected N, +N or -N, got 'two'"
    assert info.value.exit_code is ExitCode.CONFIG


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^FLOWGATE_PROXY_PORT: proxy_port: expected a port"):
        load_settings(tmp_path, {}, {"FLOWGATE_PROXY_PORT": "99999"})


def test_bad_flag_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^--scale: expected N, \+N or -N, got 'two'$"):
        load_settings(tmp_path, {"scale": "two"}, {})


def test_unknown_file_key_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "flowgate.yml", "target: app\nscael: 2\n")
    with pytest.raises(
        ConfigError, match=r"^flowgate.yml: scael: unknown key; did you mean 'scale'\?$"
    ):
        load_settings(tmp_path, {}, {})


def test_malformed_yaml_says_where(tmp_path: Path) -> None:
    write(tmp_path / "flowgate.yml", "target: app\n  scale: [1\n")
    with pytest.raises(ConfigError, match=r"^flowgate.yml: malformed YAML at line \d+"):
        load_settings(tmp_path, {}, {})


def test_a_non_mapping_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "flowgate.yml", "- target\n")
    with pytest.raises(ConfigError, match="expected a mapping, got list"):
        load_settings(tmp_path, {}, {})


def test_backend_keys_are_accepted_and_validated(tmp_path: Path) -> None:
    key = Key("widget_count", parse_int, 2)
    write(tmp_path / "flowgate.yml", "widget_count: 5\n")
    assert load_settings(tmp_path, {}, {}, [key]).widget_count == 5
    with pytest.raises(ConfigError, match="FLOWGATE_WIDGET_COUNT: widget_count: expected an int"):
        load_settings(tmp_path, {}, {"FLOWGATE_WIDGET_COUNT": "many"}, [key])
