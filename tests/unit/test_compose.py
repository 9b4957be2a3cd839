"""docker-compose.yml: valid for the installed Compose, and shaped as the stack needs.

The structural checks read the YAML text with a small indentation scanner (PyYAML is not a
dependency): enough for block mappings as written here and as ``docker compose config`` prints them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from producers.keys import KeyKind, KeyStore

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = ("kafka", "clickhouse", "schema-registry", "migrate", "collector", "worker")
LONG_RUNNING = ("kafka", "clickhouse", "schema-registry", "collector", "worker")
FEEDBACK_SERVICES = ("migrate", "collector", "worker")
KEY = re.compile(r"^([A-Za-z0-9_.<-]+):(?:\s|$)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _key(line: str) -> str | None:
    match = KEY.match(line.strip())
    return match.group(1) if match else None


def _content(lines: list[str]) -> list[str]:
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def block(lines: list[str], *path: str) -> list[str]:
    """The lines under ``path`` (nested mapping keys), e.g. ``block(lines, "services", "kafka")``."""
    for key in path:
        body = _content(lines)
        base = min(_indent(line) for line in body)
        start = next((i for i, line in enumerate(body) if _indent(line) == base and _key(line) == key), None)
        if start is None:
            raise KeyError(f"{'.'.join(path)}: no key {key!r}")
        lines = []
        for line in body[start + 1 :]:
            # Block sequences may sit at the key's own indent ("ports:\n- 8080:8080").
            if _indent(line) < base or (_indent(line) == base and not line.lstrip().startswith("- ")):
                break
            lines.append(line)
    return lines


def value(lines: list[str], key: str) -> str | None:
    """The inline value of ``key`` at the top level of ``lines`` (None if absent)."""
    body = _content(lines)
    if not body:
        return None
    base = min(_indent(line) for line in body)
    for line in body:
        if _indent(line) == base and _key(line) == key:
            return line.strip()[len(key) + 1 :].strip()
    return None


def keys(lines: list[str]) -> list[str]:
    body = _content(lines)
    if not body:
        return []
    base = min(_indent(line) for line in body)
    return [key for line in body if _indent(line) == base and (key := _key(line))]


def mapping(lines: list[str]) -> dict[str, str]:
    """A flat ``key: value`` mapping (e.g. an environment block), values unquoted."""
    result = {}
    for line in _content(lines):
        key = _key(line)
        if key:
            result[key] = line.strip()[len(key) + 1 :].strip().strip("'\"")
    return result


@pytest.fixture(scope="module")
def compose_lines() -> list[str]:
    return COMPOSE_FILE.read_text().splitlines()


def compose_command() -> list[str] | None:
    """``docker-compose`` (v1, Debian's) or ``docker compose`` (v2 plugin), whichever works."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], check=False, capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def run_compose(*args: str) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed (`make tools`)")
    return subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_config_is_valid() -> None:
    result = run_compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_normalized_config_gives_every_feedback_service_the_same_environment() -> None:
    result = run_compose("config")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert set(SERVICES) <= set(keys(block(lines, "services")))
    envs = {name: mapping(block(lines, "services", name, "environment")) for name in FEEDBACK_SERVICES}
    assert envs["collector"] == envs["worker"] == envs["migrate"]
    env = envs["collector"]
    assert env["FEEDBACK_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert re.fullmatch(r"http://default:[^@]+@clickhouse:8123", env["FEEDBACK_CLICKHOUSE_URL"])
    assert env["FEEDBACK_SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
    assert env["FEEDBACK_HTTP_ADDR"] == "0.0.0.0:8080"


def test_services_exist(compose_lines: list[str]) -> None:
    assert set(SERVICES) <= set(keys(block(compose_lines, "services")))


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_long_running_services_have_a_healthcheck(compose_lines: list[str], service: str) -> None:
    check = block(compose_lines, "services", service, "healthcheck")
    assert "test" in keys(check)


def test_images_are_the_official_ones(compose_lines: list[str]) -> None:
    images = {name: value(block(compose_lines, "services", name), "image") or "" for name in SERVICES}
    assert re.fullmatch(r"apache/kafka:4\.[\d.]+", images["kafka"])
    assert images["clickhouse"].startswith("clickhouse/clickhouse-server:")
    assert images["schema-registry"].startswith("confluentinc/cp-schema-registry:")


def test_feedback_services_share_one_image_and_one_environment(compose_lines: list[str]) -> None:
    assert value(compose_lines, "x-feedback-env") == "&feedback-env"
    shared = mapping(block(compose_lines, "x-feedback-env"))
    assert {
        "FEEDBACK_KAFKA_BOOTSTRAP",
        "FEEDBACK_CLICKHOUSE_URL",
        "FEEDBACK_SCHEMA_REGISTRY_URL",
        "FEEDBACK_HTTP_ADDR",
        "FEEDBACK_KEYS_FILE",
    } <= set(shared)
    for name in FEEDBACK_SERVICES:
        service = block(compose_lines, "services", name)
        assert value(service, "environment") == "*feedback-env", name
        assert value(service, "<<") == "*feedback-image", name
        assert value(service, "command") == f'["{name}"]', name


def test_collector_and_worker_wait_for_the_migration(compose_lines: list[str]) -> None:
    depends = block(compose_lines, "services", "collector", "depends_on")
    assert mapping(block(depends, "migrate")) == {"condition": "service_completed_successfully"}
    for dependency in ("kafka", "clickhouse", "schema-registry"):
        assert mapping(block(depends, dependency)) == {"condition": "service_healthy"}
    assert value(block(compose_lines, "services", "worker"), "depends_on") == "*feedback-depends"
    assert value(block(compose_lines, "services", "migrate"), "restart") == '"no"'


def test_worker_scales(compose_lines: list[str]) -> None:
    worker = keys(block(compose_lines, "services", "worker"))
    assert "container_name" not in worker
    assert "ports" not in worker


def test_collector_publishes_8080_and_mounts_the_keys_read_only(compose_lines: list[str]) -> None:
    collector = block(compose_lines, "services", "collector")
    assert '- "8080:8080"' in [line.strip() for line in block(collector, "ports")]
    assert [line.strip() for line in block(collector, "volumes")] == ["- *keys-file"]
    keys_file = mapping(block(compose_lines, "x-keys-file"))
    env = mapping(block(compose_lines, "x-feedback-env"))
    assert keys_file["target"] == env["FEEDBACK_KEYS_FILE"]
    assert keys_file["read_only"] == "true"


def test_data_lives_in_named_volumes(compose_lines: list[str]) -> None:
    volumes = keys(block(compose_lines, "volumes"))
    assert {"kafka-data", "clickhouse-data"} <= set(volumes)
    for service, volume in (("kafka", "kafka-data"), ("clickhouse", "clickhouse-data")):
        mounts = [line.strip() for line in block(compose_lines, "services", service, "volumes")]
        assert any(m.startswith(f"- {volume}:") for m in mounts), service


def test_dockerfile_installs_from_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "python:3.11-slim" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile
    assert 'ENTRYPOINT ["feedback"]' in dockerfile


def test_dockerfile_copies_every_package_the_wheel_ships() -> None:
    # The image runs `feedback --help` after installing: a package left out fails the build.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    dockerfile = (ROOT / "Dockerfile").read_text()
    missing = [p for p in packages if f"COPY {p} ./{p}" not in dockerfile]
    assert not missing, missing


def test_example_keys_file_loads() -> None:
    path = ROOT / "docs" / "keys.example.json"
    store = KeyStore.load(path)
    assert all(store.first(kind) is not None for kind in KeyKind)
    assert len({entry["key"] for entry in json.loads(path.read_text())["keys"]}) == len(KeyKind)


# ---- the `cluster` profile: a 2-shard ClickHouse cluster with Keeper (issue 19) ----------------

CLUSTER_SERVICES = (
    "clickhouse-keeper",
    "clickhouse-s1",
    "clickhouse-s2",
    "migrate-cluster",
    "collector-cluster",
    "worker-cluster",
)
CLUSTER_DIR = ROOT / "deploy" / "clickhouse-cluster"


def test_cluster_profile_config_is_valid() -> None:
    result = run_compose("--profile", "cluster", "config", "-q")
    assert result.returncode == 0, result.stderr


def test_cluster_services_are_only_in_the_cluster_profile() -> None:
    result = run_compose("--profile", "cluster", "config")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in CLUSTER_SERVICES:
        assert [line.strip() for line in block(lines, "services", name, "profiles")] == ["- cluster"], name
    for name in SERVICES:
        assert "profiles" not in keys(block(lines, "services", name)), name


def test_cluster_profile_points_the_pipeline_at_the_cluster() -> None:
    result = run_compose("--profile", "cluster", "config")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    envs = {
        name: mapping(block(lines, "services", name, "environment"))
        for name in ("migrate-cluster", "collector-cluster", "worker-cluster")
    }
    assert envs["collector-cluster"] == envs["worker-cluster"] == envs["migrate-cluster"]
    env = envs["collector-cluster"]
    assert env["FEEDBACK_CLICKHOUSE_CLUSTER"] == "feedback"
    assert re.fullmatch(r"http://default:[^@]+@clickhouse-s1:8123", env["FEEDBACK_CLICKHOUSE_URL"])
    # topics and a group of their own: the single-server stack may run beside it on the same Kafka
    single = mapping(block(lines, "services", "collector", "environment"))
    assert env["FEEDBACK_TOPIC_PREFIX"] != single["FEEDBACK_TOPIC_PREFIX"]
    assert env["FEEDBACK_WORKER_GROUP"] != single["FEEDBACK_WORKER_GROUP"]
    depends = block(lines, "services", "collector-cluster", "depends_on")
    assert mapping(block(depends, "migrate-cluster")) == {"condition": "service_completed_successfully"}


def test_cluster_config_files_define_the_cluster_shards_and_keeper() -> None:
    cluster = (CLUSTER_DIR / "cluster.xml").read_text()
    assert "<remote_servers>\n        <feedback>" in cluster
    assert re.findall(r"<host>([\w-]+)</host>\s*<port>9000</port>", cluster) == ["clickhouse-s1", "clickhouse-s2"]
    assert cluster.count("<internal_replication>true</internal_replication>") == 2
    assert "<host>clickhouse-keeper</host>" in cluster
    keeper = (CLUSTER_DIR / "keeper.xml").read_text()
    assert "<tcp_port>9181</tcp_port>" in keeper
    macros = [(CLUSTER_DIR / f"macros-s{n}.xml").read_text() for n in (1, 2)]
    shards = [re.search(r"<shard>(\w+)</shard>", m).group(1) for m in macros]  # type: ignore[union-attr]
    replicas = [re.search(r"<replica>([\w-]+)</replica>", m).group(1) for m in macros]  # type: ignore[union-attr]
    assert len(set(shards)) == 2
    assert replicas == ["clickhouse-s1", "clickhouse-s2"]
