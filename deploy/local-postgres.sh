#!/usr/bin/env bash
# local-postgres.sh: a throwaway PostgreSQL for development and tests.
#
#   deploy/local-postgres.sh url      print a connection URL (stdout: the URL only).
#                                     $DATABASE_URL when it is set and reachable; otherwise a
#                                     local unix-socket-only cluster, started (initdb first if
#                                     needed) or reused, with a database named "touchline".
#   deploy/local-postgres.sh status   say whether the local cluster runs, and its URL.
#   deploy/local-postgres.sh stop     stop the local cluster if it runs.
#   deploy/local-postgres.sh destroy  stop it and delete its data directory.
#
# The cluster lives in ${TOUCHLINE_PGDATA:-<repo>/.tmp/postgres}. It listens on no TCP port
# (listen_addresses=''), only on a unix socket in <data dir>/sock, so clusters of several
# checkouts never clash. It trusts every local connection and runs with fsync=off: it is for
# throwaway data only. initdb, pg_ctl and postgres refuse to run as root, so as root they run
# as the "postgres" user; if that user cannot reach the repository (e.g. a checkout under
# /root), the cluster goes to /tmp/touchline-pg-<hash of the repo path> instead.
#
# Environment: DATABASE_URL, TOUCHLINE_PGDATA (data directory), TOUCHLINE_PG_BINDIR (directory
# of initdb/pg_ctl/psql; default: the newest /usr/lib/postgresql/*/bin, else $PATH).
set -euo pipefail

PROG=local-postgres.sh
PORT=5432          # only names the socket file (.s.PGSQL.5432); nothing listens on TCP
DBNAME=touchline
SUPERUSER=postgres

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

usage() {
	sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

short_hash() { # stable short hash of $1
	if command -v sha256sum >/dev/null 2>&1; then
		printf '%s' "$1" | sha256sum | cut -c1-12
	elif command -v shasum >/dev/null 2>&1; then
		printf '%s' "$1" | shasum -a 256 | cut -c1-12
	else
		printf '%s' "$1" | cksum | cut -d' ' -f1
	fi
}

# ---------------------------------------------------------------- binaries
find_bindir() {
	local d
	if [[ -n ${TOUCHLINE_PG_BINDIR:-} ]]; then
		[[ -x $TOUCHLINE_PG_BINDIR/initdb ]] || { log "TOUCHLINE_PG_BINDIR=$TOUCHLINE_PG_BINDIR has no initdb"; return 1; }
		printf '%s\n' "$TOUCHLINE_PG_BINDIR"
		return
	fi
	# Debian/Ubuntu layout, newest major version first.
	while read -r d; do
		if [[ -x $d/initdb && -x $d/pg_ctl ]]; then printf '%s\n' "$d"; return; fi
	done < <(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4nr)
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [[ -n $d && -x $d/initdb ]]; then printf '%s\n' "$d"; return; fi
	fi
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return
	fi
	for d in /usr/local/pgsql/bin /usr/pgsql-*/bin /opt/homebrew/bin /usr/local/bin; do
		if [[ -x $d/initdb && -x $d/pg_ctl ]]; then printf '%s\n' "$d"; return; fi
	done
	return 1
}

need_bindir() {
	BINDIR=$(find_bindir) || die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found.
  Install them (Debian/Ubuntu: apt-get install postgresql-15; the server need not run as a
  service), or point TOUCHLINE_PG_BINDIR at their directory, or set DATABASE_URL to an
  existing database (e.g. postgres://user:pass@localhost:5432/touchline)."
	local b
	for b in initdb pg_ctl postgres psql pg_isready; do
		[[ -x $BINDIR/$b ]] || die "$BINDIR/$b is missing; install the full PostgreSQL server and client packages (apt-get install postgresql-15) or set DATABASE_URL"
	done
}

# psql for checking DATABASE_URL: the server's own, else any on $PATH.
find_psql() {
	local d
	if d=$(find_bindir 2>/dev/null) && [[ -x $d/psql ]]; then printf '%s\n' "$d/psql"; return; fi
	command -v psql 2>/dev/null
}

# ---------------------------------------------------------------- DATABASE_URL
# reachable URL: 0 when a trivial query succeeds within a few seconds.
reachable() {
	local psql out
	if ! psql=$(find_psql); then
		log "warning: no psql to check DATABASE_URL; using it unchecked"
		return 0
	fi
	local to=()
	command -v timeout >/dev/null 2>&1 && to=(timeout 15)
	if out=$(PGCONNECT_TIMEOUT=5 "${to[@]}" "$psql" -X -Atq -d "$1" -c 'select 1' </dev/null 2>&1) && [[ $out == 1 ]]; then
		return 0
	fi
	log "DATABASE_URL is set but not usable: ${out:-timed out}"
	return 1
}

# ---------------------------------------------------------------- local cluster layout
IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1

# as_pg CMD...: run CMD as the cluster owner (the postgres user when we are root). The working
# directory is / so that tools do not trip over a cwd the postgres user cannot read.
as_pg() {
	if ((IS_ROOT)); then
		(cd / && runuser -u "$SUPERUSER" -- "$@")
	else
		(cd / && "$@")
	fi
}

# pg_can_reach DIR: can the cluster owner open DIR (and so every directory above it)?
pg_can_reach() {
	((IS_ROOT)) || return 0
	runuser -u "$SUPERUSER" -- test -x "$1" -a -r "$1" 2>/dev/null
}

setup_layout() {
	if ((IS_ROOT)); then
		id -u "$SUPERUSER" >/dev/null 2>&1 || die "running as root, but there is no \"$SUPERUSER\" user to run PostgreSQL as
  (initdb and postgres refuse to run as root). Create it (useradd --system $SUPERUSER), run as a
  non-root user, or set DATABASE_URL."
		command -v runuser >/dev/null 2>&1 || die "running as root needs runuser (util-linux) to drop to the $SUPERUSER user"
	fi
	local hash base
	if [[ -n ${TOUCHLINE_PGDATA:-} ]]; then
		[[ $TOUCHLINE_PGDATA == /* ]] || TOUCHLINE_PGDATA=$PWD/$TOUCHLINE_PGDATA
		PGDATA_DIR=${TOUCHLINE_PGDATA%/}
		base=$(dirname "$PGDATA_DIR")
		mkdir -p "$base"
		pg_can_reach "$base" || die "TOUCHLINE_PGDATA=$PGDATA_DIR: the $SUPERUSER user cannot reach $base"
		LOCKFILE=$PGDATA_DIR.lock
	else
		base=$repo/.tmp
		mkdir -p "$base"
		chmod go+rx "$base" 2>/dev/null || true
		if ! pg_can_reach "$base"; then
			base=/tmp/touchline-pg-$(short_hash "$repo")
			mkdir -p "$base"
			chmod 755 "$base"
		fi
		PGDATA_DIR=$base/postgres
		LOCKFILE=$base/postgres.lock
	fi
	hash=$(short_hash "$PGDATA_DIR")
	SOCKDIR=$PGDATA_DIR/sock
	# The socket file is SOCKDIR/.s.PGSQL.5432 and a unix socket path holds at most 107 bytes;
	# pg_ctl also passes SOCKDIR through a shell and it goes into a URL unescaped, so keep it plain.
	if ((${#SOCKDIR} + 18 > 100)) || [[ ! $SOCKDIR =~ ^[A-Za-z0-9_./-]+$ ]]; then
		SOCKDIR=/tmp/touchline-pg-$hash.sock
	fi
	LOGFILE=$PGDATA_DIR/server.log
}

url_for() { # url_for SOCKDIR
	printf 'postgres:///%s?host=%s&user=%s\n' "$DBNAME" "$1" "$SUPERUSER"
}

lock() {
	if command -v flock >/dev/null 2>&1; then
		exec 9>>"$LOCKFILE"
		if ! flock -w 180 9; then die "another $PROG holds $LOCKFILE for over 3 minutes"; fi
	else
		log "warning: flock not found; concurrent invocations are not serialized"
	fi
}

# running: 0 when a postmaster runs on PGDATA_DIR; sets RUN_SOCKDIR from postmaster.pid.
running() {
	[[ -f $PGDATA_DIR/PG_VERSION ]] || return 1
	as_pg "$BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1 || return 1
	RUN_SOCKDIR=$SOCKDIR
	local line5
	line5=$(sed -n 5p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)
	[[ -n $line5 ]] && RUN_SOCKDIR=${line5%%,*}
	return 0
}

wait_ready() { # wait_ready SOCKDIR
	local i
	for ((i = 0; i < 120; i++)); do
		"$BINDIR/pg_isready" -q -h "$1" -p "$PORT" -U "$SUPERUSER" -d postgres -t 2 && return 0
		sleep 0.25
	done
	return 1
}

psql_local() { # psql_local SOCKDIR SQL
	"$BINDIR/psql" -X -Atq -v ON_ERROR_STOP=1 -h "$1" -p "$PORT" -U "$SUPERUSER" -d postgres -c "$2" </dev/null
}

make_dir_for_pg() { # make_dir_for_pg DIR: create DIR, owned by the cluster owner, mode 700
	mkdir -p "$1"
	((IS_ROOT)) && chown "$SUPERUSER:" "$1"
	chmod 700 "$1"
}

init_cluster() {
	local tmp=$PGDATA_DIR.initdb
	rm -rf "$tmp"
	make_dir_for_pg "$tmp"
	log "initdb $PGDATA_DIR (PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}'))"
	if ! as_pg "$BINDIR/initdb" -D "$tmp" --auth=trust -U "$SUPERUSER" --encoding=UTF8 --locale=C \
		--no-sync >"$tmp.log" 2>&1; then
		cat "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log"
		die "initdb failed"
	fi
	rm -f "$tmp.log"
	# initdb into a side directory, then rename: an interrupted initdb never leaves a half data dir.
	mv "$tmp" "$PGDATA_DIR"
}

ensure_cluster() {
	need_bindir
	setup_layout
	lock
	if [[ -d $PGDATA_DIR && ! -f $PGDATA_DIR/PG_VERSION ]]; then
		if [[ -z $(ls -A "$PGDATA_DIR" 2>/dev/null) ]]; then
			rmdir "$PGDATA_DIR"
		else
			die "$PGDATA_DIR exists but is not a PostgreSQL data directory; remove it or set TOUCHLINE_PGDATA"
		fi
	fi
	if [[ -f $PGDATA_DIR/PG_VERSION ]]; then
		local have want
		have=$(<"$PGDATA_DIR/PG_VERSION")
		want=$("$BINDIR/postgres" --version | awk '{print $3}' | cut -d. -f1)
		[[ $have == "$want" ]] || die "$PGDATA_DIR was made by PostgreSQL $have but $BINDIR is PostgreSQL $want.
  Delete the throwaway cluster ($0 destroy) or set TOUCHLINE_PG_BINDIR to PostgreSQL $have binaries."
	fi

	if running; then
		wait_ready "$RUN_SOCKDIR" || die "the cluster in $PGDATA_DIR runs but does not accept connections; see $LOGFILE"
	else
		[[ -f $PGDATA_DIR/PG_VERSION ]] || init_cluster
		make_dir_for_pg "$SOCKDIR"
		log "starting PostgreSQL in $PGDATA_DIR (socket $SOCKDIR)"
		if ! as_pg "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$LOGFILE" -w -t 60 -s \
			-o "-c listen_addresses='' -k '$SOCKDIR' -p $PORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
			start >&2 9>&-; then
			tail -n 30 "$LOGFILE" >&2 2>/dev/null || true
			die "could not start PostgreSQL (log: $LOGFILE)"
		fi
		running || die "PostgreSQL started but pg_ctl does not see it running; see $LOGFILE"
		wait_ready "$RUN_SOCKDIR" || die "PostgreSQL does not accept connections; see $LOGFILE"
	fi
	local exists
	exists=$(psql_local "$RUN_SOCKDIR" "select 1 from pg_database where datname = '$DBNAME'") ||
		die "cannot query the local cluster; see $LOGFILE"
	if [[ $exists != 1 ]]; then
		psql_local "$RUN_SOCKDIR" "create database $DBNAME" || die "cannot create database $DBNAME"
		log "created database $DBNAME"
	fi
	URL=$(url_for "$RUN_SOCKDIR")
}

# ---------------------------------------------------------------- commands
cmd_url() {
	if [[ -n ${DATABASE_URL:-} ]]; then
		if reachable "$DATABASE_URL"; then
			printf '%s\n' "$DATABASE_URL"
			return
		fi
		log "falling back to a local throwaway cluster"
	fi
	# Our own commands must not pick up the caller's libpq defaults.
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS PGSSLMODE PGDATA
	ensure_cluster
	printf '%s\n' "$URL"
}

cmd_status() {
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS PGSSLMODE PGDATA
	[[ -n ${DATABASE_URL:-} ]] && echo "DATABASE_URL is set (make test uses it when reachable)"
	need_bindir
	setup_layout
	if running; then
		echo "local cluster running: $PGDATA_DIR"
		echo "url: $(url_for "$RUN_SOCKDIR")"
	else
		if [[ -f $PGDATA_DIR/PG_VERSION ]]; then
			echo "local cluster stopped: $PGDATA_DIR"
		else
			echo "no local cluster yet (would be $PGDATA_DIR)"
		fi
		return 3
	fi
}

cmd_stop() {
	unset PGDATA PGPORT
	need_bindir
	setup_layout
	lock
	if running; then
		as_pg "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 -s stop >&2
		log "stopped PostgreSQL in $PGDATA_DIR"
	else
		log "not running ($PGDATA_DIR)"
	fi
}

cmd_destroy() {
	cmd_stop
	rm -rf "$PGDATA_DIR" "$PGDATA_DIR.initdb"
	[[ $SOCKDIR == /tmp/touchline-pg-* ]] && rm -rf "$SOCKDIR"
	log "removed $PGDATA_DIR"
}

case ${1:-} in
url) cmd_url ;;
status) cmd_status ;;
stop) cmd_stop ;;
destroy) cmd_destroy ;;
-h | --help | help) usage ;;
*) usage ;;
esac
