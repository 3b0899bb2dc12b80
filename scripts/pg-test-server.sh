#!/usr/bin/env bash
# A throwaway PostgreSQL 15 + pgvector server for the tests (the real-server tier) and for developers.
#
#   scripts/pg-test-server.sh start   # prints the URL on stdout (logs on stderr); idempotent
#   scripts/pg-test-server.sh url     # the running server's URL (exit 1 when none runs)
#   scripts/pg-test-server.sh restart # a fast restart on the same port (tests of a server going away)
#   scripts/pg-test-server.sh stop    # stops it and deletes its cluster (nothing else)
#
#   export LOOKALIKE_PG_URL="$(scripts/pg-test-server.sh start)" && npm test; scripts/pg-test-server.sh stop
#
# start, as root on a fresh Debian 12 machine: installs postgresql-server-dev-15 and build-essential
# when missing, builds and installs pgvector from ../shared/vendor/pgvector-0.8.6.tar.gz when the
# server has no `vector` extension, creates the unprivileged user lookalike-pg, and runs initdb + the
# server as that user on 127.0.0.1 (a free port), its socket in the cluster's temp folder. Run by
# another user, it runs the server as that user (installing needs root). The cluster is for tests
# only: fsync is off, and every local connection is trusted.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
STATE=${LOOKALIKE_PG_STATE:-${TMPDIR:-/tmp}/lookalike-pg-test}
PG_USER=${LOOKALIKE_PG_USER:-lookalike-pg}
HERE="$(cd "$(dirname "$0")/.." && pwd)"
TARBALL=${PGVECTOR_TARBALL:-$HERE/../shared/vendor/pgvector-0.8.6.tar.gz}
TARBALL_SHA256=5743dac39fdfa740533cf95e71b033bd5513b71dda194b3cf19464ccbf76f3fb

log() { echo "pg-test-server: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$PGBIN/postgres" ] || die "no PostgreSQL server in $PGBIN (install postgresql-15, or set PGBIN)"
SHAREDIR=$("$PGBIN/pg_config" --sharedir)
PKGLIBDIR=$("$PGBIN/pg_config" --pkglibdir)

# The user the server runs as (never root: postgres refuses to).
if [ "$(id -u)" = 0 ]; then RUN_AS=$PG_USER; else RUN_AS=$(id -un); fi
as_user() {
  if [ "$(id -un)" = "$RUN_AS" ]; then "$@"; else runuser -u "$RUN_AS" -- "$@"; fi
}

url_of() { echo "postgres://postgres@127.0.0.1:$(cat "$STATE/port")/postgres"; }

running() {
  [ -f "$STATE/port" ] && [ -f "$STATE/data/postmaster.pid" ] && as_user "$PGBIN/pg_ctl" -D "$STATE/data" status >/dev/null 2>&1
}

have_vector() { [ -f "$SHAREDIR/extension/vector.control" ] && [ -f "$PKGLIBDIR/vector.so" ]; }

install_pgvector() {
  [ "$(id -u)" = 0 ] || die "the server has no pgvector extension ($SHAREDIR/extension/vector.control); run this script once as root to build it from $TARBALL"
  [ -f "$TARBALL" ] || die "no pgvector source at $TARBALL (set PGVECTOR_TARBALL)"
  echo "$TARBALL_SHA256  $TARBALL" | sha256sum -c --quiet - || die "$TARBALL: sha256 differs from $TARBALL_SHA256"
  local missing=()
  [ -f "/usr/include/postgresql/15/server/postgres.h" ] || missing+=(postgresql-server-dev-15)
  command -v make >/dev/null && command -v gcc >/dev/null || missing+=(build-essential)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  local src
  src=$(mktemp -d)
  tar -xzf "$TARBALL" -C "$src"
  log "building pgvector from $(basename "$TARBALL")"
  # with_llvm=no: no JIT bitcode (the tests do not use JIT; it halves the build).
  make -s -C "$src"/pgvector-* -j"$(nproc)" PG_CONFIG="$PGBIN/pg_config" with_llvm=no >/dev/null
  make -s -C "$src"/pgvector-* install PG_CONFIG="$PGBIN/pg_config" with_llvm=no >/dev/null
  rm -rf "$src"
  have_vector || die "pgvector built but $SHAREDIR/extension/vector.control is missing"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close();})'
}

start() {
  if running; then
    log "already running at $(url_of)"
    url_of
    return
  fi
  have_vector || install_pgvector
  if [ "$(id -u)" = 0 ] && ! id -u "$PG_USER" >/dev/null 2>&1; then
    log "creating user $PG_USER"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER"
  fi
  # A cluster left by a killed run is stale: it is ours (marker file), so it is replaced.
  if [ -e "$STATE" ]; then
    [ -f "$STATE/.lookalike-pg-test" ] || die "$STATE exists and is not a cluster this script made; remove it or set LOOKALIKE_PG_STATE"
    as_user "$PGBIN/pg_ctl" -D "$STATE/data" stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$STATE"
  fi
  mkdir -p "$STATE/sock"
  touch "$STATE/.lookalike-pg-test"
  chmod 700 "$STATE"
  [ "$(id -u)" = 0 ] && chown -R "$RUN_AS" "$STATE"
  as_user "$PGBIN/initdb" -D "$STATE/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$STATE/initdb.log" 2>&1 \
    || { cat "$STATE/initdb.log" >&2; die "initdb failed"; }
  local port tries=0
  while :; do
    port=$(free_port)
    echo "$port" >"$STATE/port"
    # fsync off: a test cluster is thrown away, never recovered. max_connections: tests open many pools.
    if as_user "$PGBIN/pg_ctl" -D "$STATE/data" -l "$STATE/server.log" -w -t 60 \
      -o "-p $port -k $STATE/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=128MB -c maintenance_work_mem=256MB" \
      start >/dev/null; then
      break
    fi
    tries=$((tries + 1))
    [ $tries -lt 3 ] || { tail -20 "$STATE/server.log" >&2; die "the server did not start"; }
  done
  local versions
  versions=$(as_user "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 \
    -c "CREATE EXTENSION IF NOT EXISTS vector" -c "SELECT current_setting('server_version') || ' + pgvector ' || extversion FROM pg_extension WHERE extname = 'vector'" 2>&1) \
    || { log "$versions"; stop; die "CREATE EXTENSION vector failed"; }
  # Each test database gets the extension from its template, so CREATE DATABASE is all a test needs.
  as_user "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d template1 -XAtq -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
  log "PostgreSQL $versions at $(url_of) (cluster $STATE, user $RUN_AS)"
  url_of
}

stop() {
  [ -e "$STATE" ] || return 0
  [ -f "$STATE/.lookalike-pg-test" ] || die "$STATE is not a cluster this script made; leaving it alone"
  if [ -d "$STATE/data" ]; then as_user "$PGBIN/pg_ctl" -D "$STATE/data" stop -m fast -w >/dev/null 2>&1 || true; fi
  rm -rf "$STATE"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart)
    running || die "no test server runs (start it: $0 start)"
    as_user "$PGBIN/pg_ctl" -D "$STATE/data" -l "$STATE/server.log" -w -t 60 restart -m fast >/dev/null
    log "restarted"
    ;;
  url) running || die "no test server runs (start it: $0 start)"; url_of ;;
  *) echo "usage: $0 start|url|restart|stop" >&2; exit 2 ;;
esac
