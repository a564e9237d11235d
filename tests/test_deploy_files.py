"""Static checks of the deployment files: docker-compose.yml, Dockerfile, .dockerignore,
deploy/nginx.conf, .env.example and docs/deploy.md, against the code they deploy.

No Docker engine or nginx is needed: the compose file is parsed and interpolated here,
its environment is fed to the real ``Settings.from_env`` and storage factory, and the
load balancer's score-id pattern is compiled and run on sample paths.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from collab_server.settings import ENV_ALIASES, ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ("orpheus-1", "orpheus-2")
ORPHEUS_SERVICES = (*SERVERS, "worker")
# Variables the deployment sets that are not Orpheus settings but are read by a
# library Orpheus runs on: boto3's credential chain and uvicorn's trusted proxies.
EXTERNAL = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "FORWARDED_ALLOW_IPS"}
SAMPLE_SECRETS = {
    "POSTGRES_PASSWORD": "pgsecret",
    "MINIO_ROOT_PASSWORD": "miniosecret",
    "AWS_SECRET_ACCESS_KEY": "s3secret",
    "ORPHEUS_JWT_SECRET": "jwtsecret",
}


def setting_env_names() -> dict[str, str]:
    """Environment name -> field name, for every setting."""
    return {ENV_ALIASES.get(f.name, ENV_PREFIX + f.name.upper()): f.name for f in fields(Settings)}


def accepted_env_names() -> set[str]:
    """Every ORPHEUS_* name the code reads: settings, the prefixed fallbacks of the
    aliased settings, and the CLI's own option variables (``envvar``)."""
    from collab_server.cli.main import main

    names = set(setting_env_names()) | {ENV_PREFIX + name.upper() for name in ENV_ALIASES}
    commands = list(main.commands.values())
    while commands:
        command = commands.pop()
        commands.extend(getattr(command, "commands", {}).values())
        names.update(p.envvar for p in command.params if isinstance(p.envvar, str))
    return names


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, tuple[str, bool]]:
    """Name -> (value, active) of every ``NAME=value`` or ``# NAME=value`` line."""
    return parse_env_example((ROOT / ".env.example").read_text())


def parse_env_example(text: str) -> dict[str, tuple[str, bool]]:
    entries: dict[str, tuple[str, bool]] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            name = match.group(2)
            assert name not in entries, f"{name} listed twice in .env.example"
            entries[name] = (match.group(3), match.group(1) is None)
    return entries


# --- compose interpolation (the subset docker-compose.yml uses) --------------------------


def interpolate(text: str, env: dict[str, str]) -> str:
    """``$$``, ``${VAR}``, ``${VAR:-default}`` (nested), ``${VAR:?message}``."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if j >= len(text):
                    raise ValueError(f"unclosed ${{ in {text!r}")
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            out.append(_expand(text[i + 2 : j - 1], env))
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _expand(body: str, env: dict[str, str]) -> str:
    match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)(.*))?", body, re.S)
    assert match, f"unsupported interpolation ${{{body}}}"
    name, op, arg = match.groups()
    value = env.get(name, "")
    if op == ":-" and not value:
        return interpolate(arg, env)
    if op == ":?" and not value:
        raise LookupError(f"{name}: {arg}")
    return value


def referenced_variables(text: str) -> set[str]:
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def service_env(compose: dict[str, Any], service: str, env: dict[str, str]) -> dict[str, str]:
    raw = compose["services"][service].get("environment", {})
    assert isinstance(raw, dict), f"{service}: write environment as a mapping"
    return {key: interpolate(str(value), env) for key, value in raw.items()}


def test_interpolation_helper() -> None:
    env = {"A": "1", "E": ""}
    assert interpolate("x${A}y$${A}", env) == "x1y${A}"
    assert interpolate("${B:-p${A}q}", env) == "p1q"
    assert interpolate("${E:-d}", env) == "d"
    with pytest.raises(LookupError, match="needed"):
        interpolate("${E:?needed}", env)


# --- docker-compose.yml -----------------------------------------------------------------


def test_services_and_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "minio", "minio-init", "lb", *ORPHEUS_SERVICES}
    assert services["postgres"]["image"] == "pgvector/pgvector:0.8.0-pg15"
    assert services["redis"]["image"] == "redis:7"
    assert services["minio"]["image"].startswith("minio/minio")
    assert services["minio-init"]["image"].startswith("minio/mc")
    for name in ORPHEUS_SERVICES:
        assert services[name]["build"] == ".", name


def test_commands_exist_in_the_cli(compose: dict[str, Any]) -> None:
    from collab_server.cli.main import main

    for name in ORPHEUS_SERVICES:
        command = compose["services"][name]["command"]
        assert command[0] == "orpheus" and command[1] in main.commands, (name, command)
    for name in SERVERS:
        command = compose["services"][name]["command"]
        assert command[1] == "serve"
        assert command[command.index("--host") + 1] == "0.0.0.0"
        assert {p.opts[0] for p in main.commands["serve"].params} >= {"--host", "--port"}
    assert compose["services"]["worker"]["command"][1] == "worker"


def test_health_checks(compose: dict[str, Any]) -> None:
    from collab_server.api.system import routes

    services = compose["services"]
    paths = {getattr(route, "path", "") for route in routes}
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    minio_test = " ".join(services["minio"]["healthcheck"]["test"])
    assert "mc ready" in minio_test or "/minio/health/" in minio_test
    for name in (*ORPHEUS_SERVICES, "lb"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD", name
        if test[1] == "python":
            compile(test[3], f"{name} healthcheck", "exec")  # valid Python
    for name in SERVERS:
        url = re.search(
            r"http://127\.0\.0\.1:(\d+)(/\w+)", services[name]["healthcheck"]["test"][3]
        )
        assert url is not None and url.group(2) == "/readyz" and url.group(2) in paths
        assert url.group(1) == services[name]["command"][-1]  # --port


def test_depends_on_conditions(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert "healthcheck" in services[dependency] or (
                spec["condition"] == "service_completed_successfully"
            ), (name, dependency)
    for name in ORPHEUS_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["minio-init"]["condition"] == "service_completed_successfully"
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    for server in SERVERS:
        assert services["lb"]["depends_on"][server]["condition"] == "service_healthy"


def test_minio_init_creates_the_bucket_of_the_blob_url(compose: dict[str, Any]) -> None:
    init = compose["services"]["minio-init"]
    script = "\n".join(init["command"])
    assert "mc mb --ignore-existing" in script and "$$S3_BUCKET" in script
    env = service_env(compose, "minio-init", SAMPLE_SECRETS)
    server = service_env(compose, "orpheus-1", SAMPLE_SECRETS)
    assert server["ORPHEUS_BLOB_URL"].startswith(f"s3://{env['S3_BUCKET']}/")
    assert env["APP_ACCESS_KEY"] == server["AWS_ACCESS_KEY_ID"]
    assert env["APP_SECRET_KEY"] == server["AWS_SECRET_ACCESS_KEY"] == "s3secret"


def test_every_variable_is_a_setting_or_read_by_a_library(
    compose: dict[str, Any], env_example: dict[str, tuple[str, bool]]
) -> None:
    names = setting_env_names()
    for service in ORPHEUS_SERVICES:
        for variable in compose["services"][service]["environment"]:
            assert variable in names or variable in EXTERNAL, (service, variable)
    # Typos: every ORPHEUS_* written anywhere in the deployment files is a setting.
    accepted = accepted_env_names()
    for path in ("docker-compose.yml", ".env.example", "Dockerfile", "docs/deploy.md"):
        for variable in re.findall(r"\bORPHEUS_[A-Z0-9_]+", (ROOT / path).read_text()):
            assert variable in accepted, f"{path}: {variable} is not read by Orpheus"
    compose_variables = referenced_variables((ROOT / "docker-compose.yml").read_text())
    for variable in env_example:
        assert variable in names or variable in EXTERNAL or variable in compose_variables, (
            f".env.example: {variable} is neither a setting nor used by docker-compose.yml"
        )
    missing = compose_variables - set(env_example)
    assert not missing, f"docker-compose.yml uses variables .env.example omits: {missing}"


def test_required_secrets_fail_loudly(compose: dict[str, Any]) -> None:
    for secret in ("ORPHEUS_JWT_SECRET", "AWS_SECRET_ACCESS_KEY", "POSTGRES_PASSWORD"):
        env = {k: v for k, v in SAMPLE_SECRETS.items() if k != secret}
        service = "postgres" if secret == "POSTGRES_PASSWORD" else "orpheus-1"
        with pytest.raises(LookupError, match=secret):
            service_env(compose, service, env)


async def test_compose_environment_builds_the_production_backends(compose: dict[str, Any]) -> None:
    from persistence.blobs import open_blob_store
    from persistence.drivers.s3 import S3BlobStore

    instance_ids = set()
    for service in ORPHEUS_SERVICES:
        env = service_env(compose, service, SAMPLE_SECRETS)
        settings = Settings.from_env({k: v for k, v in env.items() if k not in EXTERNAL})
        assert settings.database_url == ("postgresql://orpheus:pgsecret@postgres:5432/orpheus"), (
            service
        )
        assert settings.redis_url == "redis://redis:6379/0"
        assert settings.jwt_secret == "jwtsecret"
        instance_ids.add(settings.instance_id)
        blobs = open_blob_store(settings.effective_blob_url)
        assert isinstance(blobs, S3BlobStore)
        assert (blobs.bucket, blobs.prefix) == ("orpheus", "blobs/")
        assert blobs.client.meta.endpoint_url == "http://minio:9000"
        assert blobs.client.meta.region_name == "us-east-1"
    assert len(instance_ids) == len(ORPHEUS_SERVICES)
    pg = service_env(compose, "postgres", SAMPLE_SECRETS)
    assert (pg["POSTGRES_USER"], pg["POSTGRES_DB"], pg["POSTGRES_PASSWORD"]) == (
        "orpheus",
        "orpheus",
        "pgsecret",
    )
    # An operator's DATABASE_URL in .env wins over the bundled postgres service.
    env = service_env(compose, "orpheus-1", {**SAMPLE_SECRETS, "DATABASE_URL": "sqlite:///x"})
    assert env["DATABASE_URL"] == "sqlite:///x"


def test_external_variables_are_read_by_their_libraries(
    monkeypatch: pytest.MonkeyPatch, compose: dict[str, Any]
) -> None:
    import uvicorn

    from persistence.drivers.s3 import S3BlobStore

    env = service_env(compose, "orpheus-1", SAMPLE_SECRETS)
    for name in EXTERNAL:
        monkeypatch.setenv(name, env[name])
    credentials = S3BlobStore(
        "orpheus", endpoint_url="http://minio:9000", region="us-east-1"
    ).client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == (
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
    )
    config = uvicorn.Config(app=lambda: None, proxy_headers=True)
    assert config.forwarded_allow_ips == "*"


# --- .env.example -----------------------------------------------------------------------


def test_env_example_lists_every_setting_with_its_default(
    env_example: dict[str, tuple[str, bool]],
) -> None:
    defaults = Settings(instance_id="x")
    for env_name, field_name in setting_env_names().items():
        assert env_name in env_example, f".env.example lacks {env_name}"
        value, active = env_example[env_name]
        if active or value == "":
            continue  # a secret to fill in, or "empty means default"
        parsed = Settings.from_env({env_name: value}, instance_id="x")
        assert getattr(parsed, field_name) == getattr(defaults, field_name), (
            f".env.example: {env_name}={value} is not the default"
        )
    field = {f.name: f for f in fields(Settings)}
    assert field["instance_id"].default is MISSING  # random: listed empty
    assert env_example["ORPHEUS_INSTANCE_ID"][0] == ""


def test_env_example_comments_every_entry() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    for number, line in enumerate(lines):
        if re.fullmatch(r"(#\s*)?[A-Z][A-Z0-9_]*=.*", line.strip()):
            above = lines[number - 1].strip()
            assert above.startswith("#") and not re.fullmatch(r"#\s*[A-Z0-9_]+=.*", above), (
                f".env.example line {number + 1} ({line}) has no comment above it"
            )


def test_env_example_is_valid_for_settings(env_example: dict[str, tuple[str, bool]]) -> None:
    names = setting_env_names()
    env = {name: value for name, (value, _) in env_example.items() if name in names}
    Settings.from_env(env)  # every listed value converts (ValueError otherwise)


# --- deploy/nginx.conf ------------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx() -> str:
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    return re.sub(r"#[^\n]*", "", text)


def _block(text: str, head: str) -> str:
    start = text.index(head)
    depth, i = 0, text.index("{", start)
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    raise AssertionError(f"unclosed block {head}")


def test_nginx_config_is_balanced(nginx: str) -> None:
    assert nginx.count("{") == nginx.count("}")
    for line in nginx.splitlines():
        line = line.strip()
        if line and not line.endswith(("{", "}", ";")):
            assert re.fullmatch(r'("[^"]*"|[^"])*', line) and line.startswith(
                ("log_format", "'")
            ), f"directive without ';': {line}"


def test_nginx_routes_by_score_id_to_both_servers(compose: dict[str, Any], nginx: str) -> None:
    upstream = _block(nginx, "upstream orpheus")
    hashed = re.search(r"hash\s+\$(\w+)\s+consistent;", upstream)
    assert hashed is not None
    servers = re.findall(r"server\s+([\w.-]+):(\d+)", upstream)
    assert {host for host, _ in servers} == set(SERVERS)
    for host, port in servers:
        assert compose["services"][host]["command"][-1] == port
    # The map that defines the hash key: the score id from /ws/ and /api/ paths.
    key_map = _block(nginx, f"map $uri ${hashed.group(1)}")
    entry = re.search(r'"~([^"]+)"\s+\$(\w+);', key_map)
    assert entry is not None
    pattern, value = entry.groups()
    regex = re.compile(pattern.replace("(?<", "(?P<"))
    assert value in regex.groupindex
    for path in (
        "/ws/scores/abc-1",
        "/api/scores/abc-1",
        "/api/scores/abc-1/export",
        "/api/scores/abc-1/versions/v_1/restore",
    ):
        match = regex.match(path)
        assert match is not None and match.group(value) == "abc-1", path
    for path in ("/api/scores", "/api/auth/login", "/healthz", "/docs"):
        assert regex.match(path) is None, path
    assert re.search(r"default\s+\$request_id;", key_map)  # others spread


def test_nginx_proxies_websockets_and_uploads(nginx: str) -> None:
    server = _block(nginx, "server {")
    assert "proxy_http_version 1.1;" in server
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", server)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", server)
    upgrade_map = _block(nginx, "map $http_upgrade $connection_upgrade")
    assert re.search(r"default\s+upgrade;", upgrade_map)
    # Set, never appended: with FORWARDED_ALLOW_IPS=* uvicorn believes the leftmost entry.
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", server)
    assert "$proxy_add_x_forwarded_for" not in nginx
    for location in ("location /ws/", "location / "):
        assert "proxy_pass http://orpheus;" in _block(server, location), location
    assert "proxy_read_timeout 1h;" in _block(server, "location /ws/")
    size = re.search(r"client_max_body_size\s+(\d+)m;", server)
    assert size is not None
    assert int(size.group(1)) * 1024 * 1024 > Settings().max_upload_bytes


def test_lb_service_mounts_the_config(compose: dict[str, Any]) -> None:
    lb = compose["services"]["lb"]
    assert lb["image"].startswith("nginx:")
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]
    assert any(str(port).endswith(":80") for port in lb["ports"])
    for server in SERVERS:
        assert "ports" not in compose["services"][server]  # only through the balancer


# --- Dockerfile and .dockerignore -------------------------------------------------------


def _dockerfile() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_dockerfile() -> None:
    lines = _dockerfile()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    froms = [line.split()[1] for line in lines if line.startswith("FROM")]
    assert froms and all(image == "python:3.11-slim" for image in froms)
    installs = " ".join(line for line in lines if "pip " in line)
    extras = set(re.findall(r"\[([a-z0-9_,]+)\]", installs)[0].split(","))
    assert extras == {"postgres", "redis", "s3", "worker"}
    assert extras <= set(pyproject["project"]["optional-dependencies"])
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM")) :]
    users = [line.split()[1] for line in final if line.startswith("USER")]
    assert users and users[-1] not in ("root", "0")
    assert final[-1] == 'CMD ["orpheus", "serve", "--host", "0.0.0.0"]'
    copied = {
        line.split()[1].rstrip("/")
        for line in lines
        if line.startswith("COPY") and "--from" not in line
    }
    copied |= set(next(line for line in lines if line.startswith("COPY")).split()[1:-1])
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert {p for p in packages if (ROOT / p).is_dir()} <= copied
    for source in copied:
        assert (ROOT / source).exists(), source


def test_dockerignore_keeps_what_the_build_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = [
        "pyproject.toml",
        "README.md",
        "collab_server/app.py",
        "persistence/drivers/migrations/0001_storage.sql",
        "score_model/schema.py",
        "analysis_engine/__init__.py",
    ]
    for path in needed:
        assert (ROOT / path).exists(), path
        ignored = any(
            fnmatch.fnmatch(path, p)
            or fnmatch.fnmatch(path, p + "/*")
            or path.startswith(p.rstrip("/") + "/")
            for p in patterns
        )
        assert not ignored, f".dockerignore drops {path}"
    assert ".env" in patterns and ".git" in patterns


# --- docs/deploy.md ---------------------------------------------------------------------


def test_deploy_doc_describes_every_setting() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    table_names = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)`", text, re.M))
    missing = set(setting_env_names()) - table_names
    assert not missing, f"docs/deploy.md settings table lacks {sorted(missing)}"
    for topic in (
        "python -m persistence.drivers.migrate",
        "orpheus user add",
        "orpheus token create",
        "pg_dump",
        "/readyz",
        "/healthz",
        "/metrics",
        "scores/<id>/",
    ):
        assert topic in text, topic


# --- deploy/nginx-tls.conf and deploy/compose.tls.yml ----------------------------------


class _ComposeLoader(yaml.SafeLoader):
    """YAML with Compose's ``!override`` and ``!reset`` merge tags."""


for _tag in ("!override", "!reset"):
    _ComposeLoader.add_constructor(
        _tag,
        lambda loader, node: (
            loader.construct_sequence(node)
            if isinstance(node, yaml.SequenceNode)
            else loader.construct_mapping(node)
            if isinstance(node, yaml.MappingNode)
            else loader.construct_scalar(node)
        ),
    )


@pytest.fixture(scope="module")
def nginx_tls() -> str:
    return re.sub(r"#[^\n]*", "", (ROOT / "deploy" / "nginx-tls.conf").read_text())


@pytest.fixture(scope="module")
def compose_tls() -> dict[str, Any]:
    text = (ROOT / "deploy" / "compose.tls.yml").read_text()
    return yaml.load(text, Loader=_ComposeLoader)  # a SafeLoader with two more tags


def _servers(text: str) -> list[str]:
    """The bodies of every ``server { ... }`` block of the http block."""
    bodies, start = [], 0
    while (index := text.find("server {", start)) >= 0:
        bodies.append(_block(text[index:], "server {"))
        start = index + len("server {")
    return bodies


def test_nginx_tls_config_is_balanced(nginx_tls: str) -> None:
    assert nginx_tls.count("{") == nginx_tls.count("}")
    for line in nginx_tls.splitlines():
        line = line.strip()
        if line and not line.endswith(("{", "}", ";")):
            assert re.fullmatch(r'("[^"]*"|[^"])*', line) and line.startswith(
                ("log_format", "'")
            ), f"directive without ';': {line}"


def test_nginx_tls_routes_like_the_plain_balancer(nginx: str, nginx_tls: str) -> None:
    for head in (
        "upstream orpheus",
        "map $uri $orpheus_route_key",
        "map $http_upgrade $connection_upgrade",
    ):
        assert _block(nginx_tls, head) == _block(nginx, head), head
    plain = _block(nginx, "server {")
    http, https = _servers(nginx_tls)
    # Everything the plain server does, the HTTPS server does too (directive by directive).
    https_lines = {line.strip() for line in https.splitlines() if line.strip()}
    for line in plain.splitlines():
        if line.strip() and line.strip() != "listen 80;":
            assert line.strip() in https_lines, line.strip()
    assert re.search(r"proxy_set_header\s+X-Forwarded-Proto\s+\$scheme;", https)
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", https)
    assert "$proxy_add_x_forwarded_for" not in nginx_tls
    assert "proxy_pass" not in http  # port 80 only redirects and answers challenges


def test_nginx_tls_uses_lets_encrypt_certificates(
    nginx_tls: str, compose_tls: dict[str, Any]
) -> None:
    http, https = _servers(nginx_tls)
    assert re.search(r"listen\s+443\s+ssl;", https) and "http2 on;" in https
    names = re.findall(r"server_name\s+([\w.-]+);", nginx_tls)
    assert len(names) == 2 and len(set(names)) == 1
    domain = names[0]
    assert re.search(
        rf"ssl_certificate\s+/etc/letsencrypt/live/{re.escape(domain)}"
        r"/fullchain\.pem;",
        https,
    )
    assert re.search(
        rf"ssl_certificate_key\s+/etc/letsencrypt/live/{re.escape(domain)}"
        r"/privkey\.pem;",
        https,
    )
    assert re.search(r"ssl_protocols\s+TLSv1\.2\s+TLSv1\.3;", https)
    assert "Strict-Transport-Security" in https
    assert re.search(r"listen\s+80;", http)
    challenge = _block(http, "location /.well-known/acme-challenge/")
    webroot = re.search(r"root\s+(\S+);", challenge)
    assert webroot is not None
    assert "return 301 https://$host$request_uri;" in _block(http, "location / ")
    assert "return 200" in _block(http, "location = /lb-healthz")  # the lb healthcheck
    # The certbot service writes its challenges where nginx reads them.
    lb, certbot = compose_tls["services"]["lb"], compose_tls["services"]["certbot"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in lb["volumes"]}
    certbot_mounts = {v.split(":")[1]: v.split(":")[0] for v in certbot["volumes"]}
    assert mounts[webroot.group(1)] == certbot_mounts[webroot.group(1)]
    assert mounts["/etc/letsencrypt"] == certbot_mounts["/etc/letsencrypt"]
    assert "certbot renew --webroot -w " + webroot.group(1) in " ".join(certbot["entrypoint"])


def test_compose_tls_override(compose: dict[str, Any], compose_tls: dict[str, Any]) -> None:
    lb = compose_tls["services"]["lb"]
    assert "./deploy/nginx-tls.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]
    assert sorted(lb["ports"]) == ["443:443", "80:80"]
    assert "/etc/letsencrypt:/etc/letsencrypt:ro" in lb["volumes"]
    assert "nginx -s reload" in " ".join(lb["command"])  # renewed certificates
    text = (ROOT / "deploy" / "compose.tls.yml").read_text()
    assert "ports: !override" in text and "volumes: !override" in text  # not appended
    for name in compose_tls["services"]:
        assert name in compose["services"] or name == "certbot"
    for volume in compose_tls.get("volumes", {}):
        assert any(
            v.startswith(volume + ":")
            for service in compose_tls["services"].values()
            for v in service.get("volumes", [])
        )


# --- Prometheus and Grafana -------------------------------------------------------------


def _yaml(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


def test_prometheus_scrapes_every_server_and_the_worker(compose: dict[str, Any]) -> None:
    from collab_server.api.system import routes

    services = compose["services"]
    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert "ports" not in prometheus  # internal
    config = _yaml("deploy/prometheus.yml")
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert "/metrics" in {getattr(route, "path", "") for route in routes}
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    expected = {f"{name}:{services[name]['command'][-1]}" for name in SERVERS}
    worker = services["worker"]["command"]
    expected.add(f"worker:{worker[worker.index('--metrics-port') + 1]}")
    assert targets == expected
    from collab_server.cli.main import main

    assert "--metrics-port" in {p.opts[0] for p in main.commands["worker"].params}
    relabel = job["relabel_configs"][0]
    assert relabel["target_label"] == "instance"
    assert re.fullmatch(relabel["regex"], "orpheus-1:8000")


def test_grafana_provisions_the_dashboard(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    assert grafana["image"].startswith("grafana/grafana:")
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    [provider] = _yaml("deploy/grafana/provisioning/dashboards/orpheus.yml")["providers"]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    dashboards = list((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
    assert [d.name for d in dashboards] == ["orpheus.json"]
    [source] = _yaml("deploy/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    board = json.loads(dashboards[0].read_text())
    uids = {panel["datasource"]["uid"] for panel in board["panels"]}
    uids |= {t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    # Published on the loopback only, with a password that must be set.
    assert all(str(port).startswith("127.0.0.1:") for port in grafana["ports"])
    env = service_env(compose, "grafana", {**SAMPLE_SECRETS, "GRAFANA_ADMIN_PASSWORD": "g"})
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "g"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    with pytest.raises(LookupError, match="GRAFANA_ADMIN_PASSWORD"):
        service_env(compose, "grafana", SAMPLE_SECRETS)
    for name in ("prometheus", "grafana"):
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[-1].startswith("http://127.0.0.1:")


# --- CI workflow and pre-commit ---------------------------------------------------------


def test_github_workflow_runs_ci_with_both_services() -> None:
    workflow = _yaml(".github/workflows/ci.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    [job] = workflow["jobs"].values()
    services = job["services"]
    assert services["postgres"]["image"] == "pgvector/pgvector:0.8.0-pg15"
    assert services["redis"]["image"] == "redis:7"
    # On the ports tests/services.py connects to, with the trust auth it expects.
    from tests import services as test_services

    assert f"{test_services.POSTGRES_PORT}:5432" in services["postgres"]["ports"]
    assert f"{test_services.REDIS_PORT}:6379" in services["redis"]["ports"]
    assert services["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert "postgres" in test_services.POSTGRES_USERS
    for service in services.values():
        assert "--health-cmd" in service["options"]
    steps = job["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11"
    node = next(s for s in steps if s.get("uses", "").startswith("actions/setup-node"))
    assert str(node["with"]["node-version"]) == "20"
    runs = [s["run"] for s in steps if "run" in s]
    assert runs[-1].strip() == "bash .ci/run"
    [screenshots] = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert screenshots["if"] == "always()" and screenshots["with"]["path"] == "web/test-results/"
    assert "CHROMIUM_PATH" in "\n".join(runs)  # read by web/e2e/harness.ts
    assert "CHROMIUM_PATH" in (ROOT / "web" / "e2e" / "harness.ts").read_text()
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test" in ci_run and "ORPHEUS_REQUIRE_SERVICES=1" in ci_run
    assert job["timeout-minutes"] <= 90


def test_pre_commit_runs_the_ci_linters() -> None:
    config = _yaml(".pre-commit-config.yaml")
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format", "mypy", "eslint", "prettier"} <= set(hooks)
    assert hooks["ruff"]["entry"].startswith("ruff check")
    assert hooks["ruff-format"]["entry"].startswith("ruff format")
    assert hooks["mypy"]["entry"] == "mypy" and hooks["mypy"]["pass_filenames"] is False
    scripts = json.loads((ROOT / "web" / "package.json").read_text())["scripts"]
    eslint = re.fullmatch(r"npm --prefix web run --silent (\S+)", hooks["eslint"]["entry"])
    assert eslint is not None and "eslint" in scripts[eslint.group(1)]
    for hook in ("eslint", "prettier"):
        assert hooks[hook]["files"].startswith("^web/")
    script = (ROOT / "scripts" / "test").read_text()
    for tool in ("ruff check", "mypy", "lint-imports", "run --silent lint"):
        assert tool in script, tool
    readme = (ROOT / "README.md").read_text()
    assert "pre-commit install" in readme
