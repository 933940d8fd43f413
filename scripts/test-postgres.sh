# Sourced by run-tests: starts a throwaway PostgreSQL cluster for the PostgreSQL store tests and
# exports its connection string in GENSEARCH_TEST_POSTGRES; stop_test_postgres stops it and removes
# its files. Installs Debian's postgresql with apt-get when it is missing. When no server can be
# started the variable stays unset, and the PostgreSQL tests fail (they never skip on their own;
# GENSEARCH_SKIP_POSTGRES=1 skips them, for a machine without PostgreSQL, and CI does not set it).

pg_bin() {
  local dir
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return 0; fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  return 1
}

start_test_postgres() {
  local bin runas=() port
  if ! bin=$(pg_bin); then
    echo "run-tests: PostgreSQL is missing; installing Debian's postgresql" >&2
    local sudo=(); [ "$(id -u)" -ne 0 ] && sudo=(sudo -n)
    "${sudo[@]}" apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq postgresql >&2 || true
    bin=$(pg_bin) || { echo "run-tests: PostgreSQL could not be installed; the PostgreSQL store tests will fail" >&2; return 0; }
  fi
  # PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runas=(runuser -u postgres --)
  fi
  GENSEARCH_PG_DIR=$(mktemp -d /tmp/gensearch-pg.XXXXXX)
  [ "${#runas[@]}" -gt 0 ] && chown postgres "$GENSEARCH_PG_DIR"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))
  if ! "${runas[@]}" "$bin/initdb" -D "$GENSEARCH_PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >"$GENSEARCH_PG_DIR/initdb.log" 2>&1; then
    echo "run-tests: initdb failed (see $GENSEARCH_PG_DIR/initdb.log); the PostgreSQL store tests will fail" >&2; return 0
  fi
  if ! "${runas[@]}" "$bin/pg_ctl" -D "$GENSEARCH_PG_DIR/data" -l "$GENSEARCH_PG_DIR/server.log" -w -t 60 \
       -o "-p $port -k $GENSEARCH_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1; then
    echo "run-tests: PostgreSQL did not start (see $GENSEARCH_PG_DIR/server.log); the PostgreSQL store tests will fail" >&2; return 0
  fi
  GENSEARCH_PG_BIN=$bin
  GENSEARCH_PG_RUNAS="${runas[*]}"
  export GENSEARCH_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
  echo "run-tests: PostgreSQL $("$bin/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port for the store tests" >&2
}

stop_test_postgres() {
  [ -n "${GENSEARCH_PG_DIR:-}" ] || return 0
  if [ -n "${GENSEARCH_PG_BIN:-}" ]; then
    # shellcheck disable=SC2086
    $GENSEARCH_PG_RUNAS "$GENSEARCH_PG_BIN/pg_ctl" -D "$GENSEARCH_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$GENSEARCH_PG_DIR"
  unset GENSEARCH_PG_DIR GENSEARCH_PG_BIN GENSEARCH_PG_RUNAS GENSEARCH_TEST_POSTGRES
}
