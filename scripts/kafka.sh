#!/usr/bin/env bash
# scripts/kafka.sh — a real Apache Kafka (KRaft) cluster on 127.0.0.1 for tests.
#
#   scripts/kafka.sh up          [--brokers 1|3]   fetch jars, format, start, wait; prints bootstrap last
#   scripts/kafka.sh down        [--brokers 1|3]   stop the nodes this script started (SIGTERM, then SIGKILL)
#   scripts/kafka.sh status      [--brokers 1|3]   what runs (both clusters when --brokers is not given)
#   scripts/kafka.sh kill-node N [--brokers 1|3]   kill -9 node N (fault tests)
#   scripts/kafka.sh start-node N [--brokers 1|3]  restart node N on its data dir, wait until its replicas are in sync
#   scripts/kafka.sh bootstrap   [--brokers 1|3]   print the bootstrap address
#
# The one-broker cluster (.kafka/c1, broker port 19092, controller 19093) and the
# three-broker cluster (.kafka/c3, broker ports 29092/29192/29292, controllers one
# above each) are independent and can run at the same time. Every node is a
# combined broker+controller with its own data dir (.kafka/cN/nodeI/data), log
# (.kafka/cN/nodeI/logs/server.log) and pid file. `up` always starts from empty
# data dirs; logs stay after `down` (the previous run's are kept as *.prev).
#
# Environment: SLUICE_KAFKA_DIR (default <repo>/.kafka), KAFKA_HEAP_OPTS,
# KAFKA_UP_TIMEOUT (seconds, default 180), KAFKA_STOP_TIMEOUT (default 20),
# MVN_ARGS (extra arguments for mvn, e.g. -Dmaven.repo.local=/tmp/m2),
# SLUICE_KAFKA_PORT1 / SLUICE_KAFKA_PORT3 (first broker port of c1 / c3, for a
# second checkout on the same machine; node I uses PORT+100*(I-1), its
# controller one above; keep them below 32768, the start of the ephemeral
# port range, or an outgoing connection can take a broker port).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KDIR=${SLUICE_KAFKA_DIR:-$ROOT/.kafka}
JARS=$KDIR/jars
POM=$ROOT/scripts/kafka/pom.xml
READY=$KDIR/bin/ready
UP_TIMEOUT=${KAFKA_UP_TIMEOUT:-180}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-20}

say() { echo "kafka.sh: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
	sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# ---- arguments ---------------------------------------------------------------

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
node_arg=""
brokers=""
while [ $# -gt 0 ]; do
	case $1 in
	--brokers) [ $# -ge 2 ] || usage; brokers=$2; shift 2 ;;
	--brokers=*) brokers=${1#--brokers=}; shift ;;
	-h|--help) usage ;;
	[0-9]*) node_arg=$1; shift ;;
	*) say "unknown argument: $1"; usage ;;
	esac
done
status_all=false
if [ -z "$brokers" ]; then
	brokers=1
	if [ "$cmd" = status ]; then status_all=true; fi
fi
case $brokers in 1|3) ;; *) die "--brokers must be 1 or 3, not '$brokers'" ;; esac

# select_cluster sets the per-cluster globals for a broker count.
select_cluster() {
	N=$1
	CDIR=$KDIR/c$N
	if [ "$N" = 1 ]; then BASE=${SLUICE_KAFKA_PORT1:-19092}; else BASE=${SLUICE_KAFKA_PORT3:-29092}; fi
	HEAP=${KAFKA_HEAP_OPTS:-$([ "$N" = 1 ] && echo "-Xms256m -Xmx768m" || echo "-Xms192m -Xmx512m")}
}
broker_port() { echo $((BASE + 100 * ($1 - 1))); }
controller_port() { echo $((BASE + 100 * ($1 - 1) + 1)); }
bootstrap() {
	local i out=""
	for ((i = 1; i <= N; i++)); do out+="${out:+,}127.0.0.1:$(broker_port "$i")"; done
	echo "$out"
}
node_dir() { echo "$CDIR/node$1"; }

# ---- processes ---------------------------------------------------------------

# node_pid prints the pid of node $1 when it is a live broker this script
# started (its command line names this node's server.properties); else fails.
node_pid() {
	local pf pid
	pf=$(node_dir "$1")/pid
	[ -f "$pf" ] || return 1
	pid=$(<"$pf")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$(node_dir "$1")/server.properties" || return 1
	echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- jars and helper ---------------------------------------------------------

fetch_jars() {
	mkdir -p "$KDIR"
	local stamp want
	want=$(sha256sum "$POM" | cut -d' ' -f1)
	stamp=$JARS/.complete
	if [ -f "$stamp" ] && [ "$(<"$stamp")" = "$want" ]; then return 0; fi
	(
		flock 9
		if [ -f "$stamp" ] && [ "$(<"$stamp")" = "$want" ]; then exit 0; fi
		command -v mvn >/dev/null || die "mvn not found; install Maven (and Java 17+) to run the test broker"
		local tmp=$KDIR/jars.tmp start=$SECONDS
		rm -rf "$tmp"
		local args=(-B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime "-DoutputDirectory=$tmp")
		# shellcheck disable=SC2086
		say "fetching Kafka jars with Maven (offline first)"
		# Offline when the local repository already holds everything, else online.
		if ! mvn -o "${args[@]}" ${MVN_ARGS:-} >"$KDIR/mvn.log" 2>&1; then
			rm -rf "$tmp"
			# shellcheck disable=SC2086
			mvn "${args[@]}" ${MVN_ARGS:-} >"$KDIR/mvn.log" 2>&1 ||
				{ tail -n 30 "$KDIR/mvn.log" >&2; die "mvn failed; see $KDIR/mvn.log"; }
		fi
		ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "mvn produced no kafka_2.13 jar in $tmp"
		rm -rf "$JARS"
		mv "$tmp" "$JARS"
		echo "$want" >"$stamp"
		say "fetched $(ls "$JARS" | wc -l) jars in $((SECONDS - start))s"
	) 9>"$KDIR/jars.lock"
}

build_ready() {
	command -v go >/dev/null || die "go not found"
	mkdir -p "$KDIR/bin"
	(
		flock 9
		cd "$ROOT" && go build -o "$READY.tmp.$$" ./scripts/kafka/ready && mv "$READY.tmp.$$" "$READY"
	) 9>"$KDIR/bin.lock" || die "cannot build scripts/kafka/ready"
}

# ---- configuration -----------------------------------------------------------

write_config() {
	local i=$1 d voters="" j
	d=$(node_dir "$i")
	for ((j = 1; j <= N; j++)); do voters+="${voters:+,}$j@127.0.0.1:$(controller_port "$j")"; done
	local min_isr=1
	if [ "$N" -ge 3 ]; then min_isr=2; fi
	mkdir -p "$d/data" "$d/logs"
	cat >"$d/server.properties" <<EOF
# Written by scripts/kafka.sh; regenerated on every 'up'.
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$i"),CONTROLLER://127.0.0.1:$(controller_port "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$i")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$d/data

# Small thread pools: the test machine has few cores.
num.network.threads=2
num.io.threads=4
num.replica.fetchers=1
background.threads=4
num.recovery.threads.per.data.dir=1

# Test-friendly topic and group defaults.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$N
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$N
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$N
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
group.consumer.min.session.timeout.ms=1000
group.consumer.min.heartbeat.interval.ms=500
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
transaction.remove.expired.transaction.cleanup.interval.ms=10000
unclean.leader.election.enable=false

# Compaction: a test forces it with topic configs (segment.ms,
# min.cleanable.dirty.ratio, min.compaction.lag.ms); the cleaner looks often.
log.cleaner.enable=true
log.cleaner.threads=1
log.cleaner.backoff.ms=250
log.cleaner.dedupe.buffer.size=16777216
log.cleaner.io.buffer.size=262144
log.retention.check.interval.ms=1000
log.initial.task.delay.ms=1000
log.segment.delete.delay.ms=1000
file.delete.delay.ms=1000

# Fast failure detection for fault tests.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000
replica.lag.time.max.ms=10000
controlled.shutdown.enable=true
EOF
}

random_cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
		[ "${id:0:1}" != "-" ] && { echo "$id"; return; }
	done
}

java_tool() {
	# Short-lived JVMs: C1 only and the serial collector start fastest.
	java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2-tools.xml" -cp "$JARS/*" "$@"
}

format_node() {
	local i=$1 d
	d=$(node_dir "$i")
	java_tool kafka.tools.StorageTool format -t "$(<"$CDIR/cluster.id")" -c "$d/server.properties" \
		>"$d/logs/format.log" 2>&1 || { cat "$d/logs/format.log" >&2; die "format of node $i failed"; }
}

start_java() {
	local i=$1 d
	d=$(node_dir "$i")
	for p in "$(broker_port "$i")" "$(controller_port "$i")"; do
		port_busy "$p" && die "port $p is in use by another process; cannot start node $i of c$N"
	done
	# shellcheck disable=SC2086
	setsid java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
		-Djava.awt.headless=true -Dkafka.logs.dir="$d/logs" \
		-Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.xml" \
		-cp "$JARS/*" kafka.Kafka "$d/server.properties" \
		</dev/null >>"$d/logs/stdout.log" 2>&1 &
	local pid=$! tries=0
	echo "$pid" >"$d/pid"
	# $! is the forked shell until it has exec'd setsid and then java; wait for
	# that, so that node_pid (which checks the command line) recognizes it.
	until node_pid "$i" >/dev/null; do
		kill -0 "$pid" 2>/dev/null || return 0 # died at once; wait_ready reports it
		tries=$((tries + 1))
		[ $tries -lt 200 ] || die "node $i (pid $pid) did not exec java within 10s"
		sleep 0.05
	done
}

# wait_ready waits until the cluster answers; $1 is extra flags for ready.
wait_ready() {
	local extra=${1:-} deadline=$((SECONDS + UP_TIMEOUT)) i err=""
	while :; do
		for ((i = 1; i <= N; i++)); do
			if ! node_pid "$i" >/dev/null && [ -f "$(node_dir "$i")/pid" ]; then
				tail -n 20 "$(node_dir "$i")/logs/server.log" >&2 2>/dev/null || true
				tail -n 20 "$(node_dir "$i")/logs/stdout.log" >&2 2>/dev/null || true
				die "node $i of c$N exited during start-up; see $(node_dir "$i")/logs/server.log and stdout.log"
			fi
		done
		# shellcheck disable=SC2086
		if err=$("$READY" -brokers "$(bootstrap)" -n "$N" -timeout 10s $extra 2>&1); then
			return 0
		fi
		if [ $SECONDS -ge $deadline ]; then
			say "$err"
			die "c$N not ready after ${UP_TIMEOUT}s; see $CDIR/node*/logs/server.log"
		fi
		sleep 0.5
	done
}

# ---- commands ----------------------------------------------------------------

cmd_up() {
	command -v java >/dev/null || die "java not found; install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)"
	local start=$SECONDS i running=0
	for ((i = 1; i <= N; i++)); do if node_pid "$i" >/dev/null; then running=$((running + 1)); fi; done
	if [ $running -eq $N ]; then
		say "c$N already running"
		build_ready
		wait_ready
		bootstrap
		return
	fi
	[ $running -eq 0 ] || die "c$N is partly running ($running of $N nodes); run: $0 down --brokers $N"
	fetch_jars
	build_ready
	mkdir -p "$CDIR"
	random_cluster_id >"$CDIR/cluster.id"
	for ((i = 1; i <= N; i++)); do
		local d
		d=$(node_dir "$i")
		rm -rf "$d/data" "$d/pid"
		mkdir -p "$d/logs"
		for f in server.log stdout.log; do
			if [ -f "$d/logs/$f" ]; then mv "$d/logs/$f" "$d/logs/$f.prev"; fi
		done
		rm -f "$d"/logs/server.log.[0-9]*
		write_config "$i"
	done
	for ((i = 1; i <= N; i++)); do format_node "$i" & done
	wait_all_or_die
	# Whatever fails from here on, do not leave half a cluster running.
	trap 'say "start-up of c$N failed; stopping the nodes it started"; cmd_down' EXIT
	for ((i = 1; i <= N; i++)); do start_java "$i"; done
	wait_ready
	trap - EXIT
	say "c$N up in $((SECONDS - start))s (logs: $CDIR/node*/logs/server.log)"
	bootstrap
}

wait_all_or_die() {
	local pid rc=0
	for pid in $(jobs -p); do wait "$pid" || rc=1; done
	[ $rc -eq 0 ] || die "formatting failed"
}

# stop_pids sends SIGTERM, waits up to STOP_TIMEOUT seconds, then SIGKILLs.
stop_pids() {
	local pids=("$@") p deadline=$((SECONDS + STOP_TIMEOUT)) alive
	[ ${#pids[@]} -gt 0 ] || return 0
	kill -TERM "${pids[@]}" 2>/dev/null || true
	while :; do
		alive=()
		for p in "${pids[@]}"; do if kill -0 "$p" 2>/dev/null; then alive+=("$p"); fi; done
		[ ${#alive[@]} -eq 0 ] && return 0
		if [ $SECONDS -ge $deadline ]; then
			say "SIGKILL after ${STOP_TIMEOUT}s: ${alive[*]}"
			kill -KILL "${alive[@]}" 2>/dev/null || true
			sleep 0.2
			return 0
		fi
		sleep 0.2
	done
}

cmd_down() {
	local i pid pids=()
	for ((i = 1; i <= N; i++)); do
		if pid=$(node_pid "$i"); then pids+=("$pid"); fi
	done
	if [ ${#pids[@]} -eq 0 ]; then
		say "c$N not running"
	else
		stop_pids "${pids[@]}"
		say "c$N stopped (logs: $CDIR/node*/logs/server.log)"
	fi
	for ((i = 1; i <= N; i++)); do rm -f "$(node_dir "$i")/pid"; done
}

cmd_status() {
	local i pid state
	for ((i = 1; i <= N; i++)); do
		if pid=$(node_pid "$i"); then state="running pid $pid"; else state="stopped"; fi
		printf 'c%s node %s  127.0.0.1:%s (controller %s)  %s  log %s\n' "$N" "$i" \
			"$(broker_port "$i")" "$(controller_port "$i")" "$state" "$(node_dir "$i")/logs/server.log"
	done
}

check_node_arg() {
	[ -n "$node_arg" ] || die "$cmd needs a node number"
	[ "$node_arg" -ge 1 ] && [ "$node_arg" -le "$N" ] || die "node must be 1..$N, not $node_arg"
	[ -f "$(node_dir "$node_arg")/server.properties" ] || die "c$N was never started; run: $0 up --brokers $N"
}

cmd_kill_node() {
	check_node_arg
	local pid
	pid=$(node_pid "$node_arg") || die "node $node_arg of c$N is not running"
	kill -KILL "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -f "$(node_dir "$node_arg")/pid"
	say "killed node $node_arg of c$N (pid $pid)"
}

cmd_start_node() {
	check_node_arg
	node_pid "$node_arg" >/dev/null && die "node $node_arg of c$N is already running"
	command -v java >/dev/null || die "java not found"
	build_ready
	echo "--- restart $(date -u +%FT%TZ) ---" >>"$(node_dir "$node_arg")/logs/stdout.log"
	start_java "$node_arg"
	wait_ready -isr
	say "node $node_arg of c$N back, all replicas in sync"
	bootstrap
}

case $cmd in
up) select_cluster "$brokers"; cmd_up ;;
down) select_cluster "$brokers"; cmd_down ;;
status)
	if $status_all; then
		select_cluster 1; cmd_status
		select_cluster 3; cmd_status
	else
		select_cluster "$brokers"; cmd_status
	fi
	;;
kill-node) select_cluster "$brokers"; cmd_kill_node ;;
start-node) select_cluster "$brokers"; cmd_start_node ;;
bootstrap) select_cluster "$brokers"; bootstrap ;;
*) usage ;;
esac
