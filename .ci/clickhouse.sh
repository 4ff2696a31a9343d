#!/usr/bin/env bash
# Starts the ClickHouse servers that Gatescope's ClickHouse tests need, as
# plain background processes (CI has no systemd):
#   single : one server,          native 127.0.0.1:9000, http 8123
#   shard1 : gatescope_cluster #1, native 127.0.0.1:9101, http 8201
#   shard2 : gatescope_cluster #2, native 127.0.0.1:9102, http 8202
# Debian's clickhouse-server (18.16) is installed with apt-get if missing.
# Idempotent: a server that already answers is left alone.
#
# usage: .ci/clickhouse.sh [start|stop|status]
#   start (default) prints, on stdout only, shell assignments for the tests:
#     eval "$(bash .ci/clickhouse.sh)"
#   stop  ends the servers this script started (by their pid files).
# env:  GATESCOPE_CH_DIR  data, config and logs (default /tmp/gatescope-ch)
set -euo pipefail

BASE="${GATESCOPE_CH_DIR:-/tmp/gatescope-ch}"
CLUSTER=gatescope_cluster
HOST=127.0.0.1
# name native-port http-port interserver-port
INSTANCES=(
	"single 9000 8123 9009"
	"shard1 9101 8201 9301"
	"shard2 9102 8202 9302"
)
SHARD_PORTS=(9101 9102)
START_TIMEOUT=${GATESCOPE_CH_START_TIMEOUT:-90}

log() { echo "clickhouse.sh: $*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

install_clickhouse() {
	if command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null; then
		return
	fi
	log "installing clickhouse-server and clickhouse-client with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	# A clean machine may have no package lists yet; the lock timeout rides
	# out another apt-get that is already running.
	apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 ||
		log "apt-get update failed; trying the install with the lists at hand"
	apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
		clickhouse-server clickhouse-client >&2 ||
		die "apt-get install clickhouse-server clickhouse-client failed"
}

# pid_alive NAME: succeeds when the pid file names a live clickhouse-server.
pid_alive() {
	local pidfile="$BASE/$1/clickhouse-server.pid" pid
	[[ -s $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# The pid must still be our server, not a recycled pid.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--config-file=$BASE/$1/config.xml"
}

answers() { # answers PORT
	[[ "$(clickhouse-client --host "$HOST" --port "$1" --query 'SELECT 1' 2>/dev/null)" == 1 ]]
}

port_busy() { # port_busy PORT: succeeds when something listens on PORT
	(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

write_config() { # write_config NAME TCP HTTP INTERSERVER
	local name=$1 tcp=$2 http=$3 inter=$4 dir="$BASE/$1" remote=""
	mkdir -p "$dir"/{data,tmp,user_files,format_schemas,log}
	if [[ $name == shard* ]]; then
		remote="    <remote_servers>
        <$CLUSTER>"
		for p in "${SHARD_PORTS[@]}"; do
			remote+="
            <shard>
                <replica>
                    <host>$HOST</host>
                    <port>$p</port>
                </replica>
            </shard>"
		done
		remote+="
        </$CLUSTER>
    </remote_servers>"
	fi
	# A complete config of our own rather than overrides of
	# /etc/clickhouse-server: the packaged one carries test clusters, a
	# distributed_ddl section and /var paths that we do not want.
	cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<!-- Written by .ci/clickhouse.sh; rewritten on every start. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>$HOST</listen_host>
    <tcp_port>$tcp</tcp_port>
    <http_port>$http</http_port>
    <interserver_http_port>$inter</interserver_http_port>
    <interserver_http_host>$HOST</interserver_http_host>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <max_connections>1024</max_connections>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
$remote
</yandex>
XML
	cat >"$dir/users.xml" <<'XML'
<?xml version="1.0"?>
<!-- Written by .ci/clickhouse.sh: passwordless default user, loopback only. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

start_one() { # start_one NAME TCP HTTP INTERSERVER
	local name=$1 tcp=$2 dir="$BASE/$1"
	if pid_alive "$name"; then
		log "$name already running (pid $(<"$dir/clickhouse-server.pid"))"
		return
	fi
	rm -f "$dir/clickhouse-server.pid"
	local p
	for p in "$2" "$3" "$4"; do
		port_busy "$p" && die "port $p on $HOST is taken by another process; $name cannot start (ss -ltnp shows who)"
	done
	write_config "$@"
	log "starting $name on $HOST:$tcp (dir $dir)"
	# setsid: the server must outlive the shell (and process group) that ran
	# us. Without job control the background child is no group leader, so
	# setsid execs in place and $! is the server's pid. (18.16 writes no pid
	# file of its own outside --daemon mode.)
	setsid clickhouse-server --config-file="$dir/config.xml" \
		>"$dir/log/stdout.log" 2>&1 </dev/null &
	echo $! >"$dir/clickhouse-server.pid"
}

wait_one() { # wait_one NAME TCP
	local name=$1 tcp=$2 dir="$BASE/$1" i
	for ((i = 0; i < START_TIMEOUT * 2; i++)); do
		if answers "$tcp"; then
			return
		fi
		sleep 0.5
	done
	log "$name did not answer SELECT 1 on $HOST:$tcp within ${START_TIMEOUT}s; last log lines:"
	tail -n 20 "$dir/log/clickhouse-server.err.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
	exit 1
}

stop_one() { # stop_one NAME
	local name=$1 dir="$BASE/$1" pid i
	if ! pid_alive "$name"; then
		rm -f "$dir/clickhouse-server.pid"
		log "$name not running"
		return
	fi
	pid=$(<"$dir/clickhouse-server.pid")
	kill -TERM "$pid"
	for ((i = 0; i < 120; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name (pid $pid) ignored SIGTERM for 60s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/clickhouse-server.pid"
	log "$name stopped"
}

print_env() {
	local shards="" p
	for p in "${SHARD_PORTS[@]}"; do
		shards+="${shards:+,}$HOST:$p"
	done
	echo "GATESCOPE_CLICKHOUSE_URL=clickhouse://$HOST:9000/default"
	echo "GATESCOPE_CLICKHOUSE_CLUSTER_URL=clickhouse://$shards/default"
	echo "GATESCOPE_CLICKHOUSE_CLUSTER=$CLUSTER"
	echo "GATESCOPE_CLICKHOUSE_HTTP_URL=http://$HOST:8123"
	echo "export GATESCOPE_CLICKHOUSE_URL GATESCOPE_CLICKHOUSE_CLUSTER_URL GATESCOPE_CLICKHOUSE_CLUSTER GATESCOPE_CLICKHOUSE_HTTP_URL"
}

cmd=${1:-start}
case $cmd in
start)
	install_clickhouse
	mkdir -p "$BASE"
	for inst in "${INSTANCES[@]}"; do
		# shellcheck disable=SC2086 # word splitting of the instance row is the point
		start_one $inst
	done
	for inst in "${INSTANCES[@]}"; do
		read -r name tcp _ <<<"$inst"
		wait_one "$name" "$tcp"
	done
	log "all servers answer: $(clickhouse-client --host "$HOST" --port 9000 --query 'SELECT version()')"
	print_env
	;;
stop)
	for inst in "${INSTANCES[@]}"; do
		read -r name _ <<<"$inst"
		stop_one "$name"
	done
	;;
status)
	rc=0
	for inst in "${INSTANCES[@]}"; do
		read -r name tcp _ <<<"$inst"
		if pid_alive "$name" && answers "$tcp"; then
			log "$name up on $HOST:$tcp"
		else
			log "$name down"
			rc=1
		fi
	done
	exit $rc
	;;
*)
	die "usage: $0 [start|stop|status]"
	;;
esac
