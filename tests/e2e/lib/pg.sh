# A private PostgreSQL server for the tests (issue #16): initdb and pg_ctl
# from the Debian postgresql package in a fresh directory, listening only on
# a Unix socket inside it, password (SCRAM) authentication with the password
# in a passfile (PGPASSFILE), never on a command line.
#
# Sourced by e2e scripts (after common.sh):
#   pg_start            starts it; sets PG_DIR, PG_CONNINFO (keyword form),
#                       PG_URI (postgresql://...) and exports PGPASSFILE;
#                       stopped by pg_stop or when the test exits
#   pg_stop / pg_restart
#   pg_sql SQL          runs SQL with psql, prints unaligned rows
# Run as a command (the CTest fixture of the unit tests):
#   bash pg.sh start DIR   the server under /tmp; DIR/conninfo, DIR/passfile
#   bash pg.sh stop DIR    stops it and removes both
#
# The server refuses to run as root: as root, it runs as the `postgres`
# system user the package creates, else as the calling user.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg__as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_init DIR: a cluster in DIR/data, socket in DIR, passfile DIR/passfile.
pg_init() {
  local dir=$1 password
  [ -x "$PG_BIN/initdb" ] || { echo "pg.sh: $PG_BIN/initdb missing (apt-get install postgresql)" >&2; return 1; }
  mkdir -p "$dir"
  chmod 755 "$dir"
  password=$(openssl rand -hex 16)
  printf '%s\n' "$password" >"$dir/pwfile"
  printf '*:*:*:estd:%s\n' "$password" >"$dir/passfile"
  chmod 600 "$dir/passfile"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir" "$dir/pwfile"; fi
  pg__as "$PG_BIN/initdb" -D "$dir/data" -U estd --pwfile="$dir/pwfile" -A scram-sha-256 \
    --locale=C -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  rm -f "$dir/pwfile"
  printf 'host=%s port=5432 user=estd dbname=postgres\n' "$dir" >"$dir/conninfo"
}

# pg_server_start DIR: starts the cluster of DIR (socket only, no TCP).
pg_server_start() {
  local dir=$1
  pg__as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=100 -c fsync=on" \
    start >/dev/null || { tail -20 "$dir/server.log" >&2; return 1; }
}

pg_server_stop() {
  local dir=$1 mode=${2:-fast}
  [ -f "$dir/data/postmaster.pid" ] || return 0
  pg__as "$PG_BIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -eu
  case "${1:-}" in
    # The cluster lives under /tmp: the server's user may not reach the
    # build directory (a checkout under /root); DIR gets what clients need.
    start)
      rm -rf "$2"
      mkdir -p "$2"
      cluster=$(mktemp -d /tmp/estkit-pg.XXXXXX)
      printf '%s\n' "$cluster" >"$2/cluster"
      pg_init "$cluster"
      pg_server_start "$cluster"
      cp "$cluster/conninfo" "$cluster/passfile" "$2/" ;;
    stop)
      if [ -f "$2/cluster" ]; then
        pg_server_stop "$(cat "$2/cluster")"
        rm -rf "$(cat "$2/cluster")"
      fi
      rm -rf "$2" ;;
    *) echo "usage: pg.sh start|stop DIR" >&2; exit 1 ;;
  esac
  exit 0
fi

pg_start() {
  # Not under $T: the server's user must reach its directory.
  PG_DIR=$(mktemp -d /tmp/estkit-pg.XXXXXX)
  pg_init "$PG_DIR"
  pg_server_start "$PG_DIR"
  export PGPASSFILE=$PG_DIR/passfile
  PG_CONNINFO="host=$PG_DIR port=5432 user=estd dbname=postgres"
  PG_URI="postgresql://estd@/postgres?host=$PG_DIR"
  # Stopped whatever way the test ends, before common.sh removes $T.
  trap 'pg_server_stop "$PG_DIR" immediate; rm -rf "$PG_DIR"; cleanup' EXIT
}

pg_stop() { pg_server_stop "$PG_DIR" "${1:-fast}"; }
pg_restart() { pg_server_start "$PG_DIR"; }

pg_sql() {
  psql -X -q -A -t -v ON_ERROR_STOP=1 "$PG_CONNINFO" -c "$1"
}
