from __future__ import annotations

from pathlib import Path

import pytest

from flowgate.config.compose import interpolate, load_compose, parse_duration
from flowgate.errors import ConfigError

COMPOSE = """
version: "3.8"
services:
  app:
    image: books-ms:${BOOKS_VERSION:-1.0}
    command: busybox httpd -f -p 8080
    environment:
      DB_HOST: db
      GREETING: "cost $$5"
    env_file: app.env
    ports: ["127.0.0.1:9000:8080", "9443:8443/tcp"]
    expose: [7000]
    labels: [team=books]
    healthcheck:
      test: ["CMD", "wget", "-q", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 500ms
      retries: 30
      start_period: 1m30s
    depends_on: [db]
    restart: always
  db:
    image: books-ms-db:1.0
    container_name: books-db
    volumes: ["./data:/data:ro"]
    deploy:
      replicas: 2
      placement:
        constraints: [node.role == worker]
secrets: {}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    (tmp_path / "app.env").write_text("# comment\nFROM_FILE=yes\nDB_HOST=overridden\n")
    return tmp_path


def test_reads_the_supported_subset(project: Path) -> None:
    compose = load_compose(project / "docker-compose.yml", {})
    app = compose.service("app")
    assert app.image == "books-ms:1.0"
    assert app.command == ["busybox", "httpd", "-f", "-p", "8080"]
    assert app.environment == {"FROM_FILE": "yes", "DB_HOST": "db", "GREETING": "cost $5"}
    assert app.ports == ["8080/tcp", "8443/tcp", "7000/tcp"]
    assert app.main_port == "8080/tcp"
    assert app.labels == {"team": "books"}
    assert app.healthcheck is not None
    assert app.healthcheck.test == ["CMD", "wget", "-q", "http://127.0.0.1:8080/health"]
    assert (app.healthcheck.interval, app.healthcheck.timeout) == (1.0, 0.5)
    assert (app.healthcheck.retries, app.healthcheck.start_period) == (30, 90.0)
    assert app.depends_on == ["db"]
    db = compose.service("db")
    assert db.container_name == "books-db"
    assert db.volumes == ["./data:/data:ro"]
    assert (db.replicas, db.placement) == (2, ["node.role == worker"])


def test_unsupported_keys_are_reported_not_dropped(project: Path) -> None:
    compose = load_compose(project / "docker-compose.yml", {})
    assert compose.ignored == ["secrets (top level)"]
    assert compose.service("app").options == {"restart": "always"}


def test_interpolation_uses_the_environment_then_dotenv(project: Path) -> None:
    (project / ".env").write_text("BOOKS_VERSION=1.1\n")
    assert load_compose(project / "docker-compose.yml", {}).service("app").image == "books-ms:1.1"
    env = {"BOOKS_VERSION": "2.0"}
    assert load_compose(project / "docker-compose.yml", env).service("app").image == "books-ms:2.0"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("${A}", {}, ""),
        ("$A-$B", {"A": "1", "B": "2"}, "1-2"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("$$A", {"A": "x"}, "$A"),
    ],
)
def test_interpolation_rules(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env, "f") == expected


def test_required_variable_missing_is_an_error() -> None:
    with pytest.raises(ConfigError, match="required variable TAG is missing: set it"):
        interpolate("img:${TAG:?set it}", {}, "docker-compose.yml")


def test_missing_compose_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Compose file not found"):
        load_compose(tmp_path / "docker-compose.yml", {})


def test_malformed_compose_file(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services:\n  app: [\n")
    with pytest.raises(ConfigError, match=r"^docker-compose\.yml: malformed YAML at line"):
        load_compose(tmp_path / "docker-compose.yml", {})


def test_unknown_target_lists_the_services(project: Path) -> None:
    compose = load_compose(project / "docker-compose.yml", {})
    with pytest.raises(ConfigError, match=r"unknown target 'api' \(services: app, db\)"):
        compose.service("api")


def test_service_without_image_or_build(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services:\n  app:\n    command: x\n")
    with pytest.raises(ConfigError, match=r"services\.app: needs an image or a build"):
        load_compose(tmp_path / "docker-compose.yml", {})


def test_build_only_service(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  app:\n    build:\n      context: ./src\n      args: {V: '2'}\n"
    )
    app = load_compose(tmp_path / "docker-compose.yml", {}).service("app")
    assert app.image is None
    assert app.build is not None
    assert app.build.context == (tmp_path / "src").resolve()
    assert app.build.args == {"V": "2"}


def test_bad_port_and_duration(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  app:\n    image: x\n    ports: ['http']\n"
    )
    with pytest.raises(ConfigError, match="invalid port 'http'"):
        load_compose(tmp_path / "docker-compose.yml", {})
    with pytest.raises(ConfigError, match="expected a duration"):
        parse_duration("soon", "f")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('ports: "8080"', "ports: expected a list, got '8080' (write `ports: ['8080']`)"),
        ("expose: 27017", "expose: expected a list, got 27017"),
        ("ports: ['8080:abc']", "ports: invalid port '8080:abc': expected a container port"),
    ],
)
def test_port_errors_quote_the_value_written(tmp_path: Path, line: str, message: str) -> None:
    """A bare string is not read character by character (it once said `invalid port '0'`)."""
    (tmp_path / "docker-compose.yml").write_text(f"services:\n  app:\n    image: x\n    {line}\n")
    with pytest.raises(ConfigError) as refused:
        load_compose(tmp_path / "docker-compose.yml", {})
    assert message in str(refused.value)
    assert "'0'" not in str(refused.value)
