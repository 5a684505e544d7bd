#!/usr/bin/env bash
# conformance/run.sh [bounded|full] [driver flags...] — builds the Java
# project and runs the conformance driver (conformance/cmd/conform) against
# $SLUICE_BROKERS, or against the project's 1-broker cluster, started here if
# it is not running (and then stopped again).
#
#   bounded  the subset `make test` runs: BOUNDED_CASES on backlog input under
#            both guarantees, plus the migration cases; results go to
#            conformance/work/<run>/
#   full     every case, both input shapes, both guarantees, the migrations;
#            results go to conformance/RESULTS.md and conformance/results.json
#            (`make test-conformance`)
#
# Either mode fails when a difference is not listed in
# conformance/known-diffs.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}
mode=${1:-full}
[ $# -gt 0 ] && shift

# The bounded subset: most cases, on backlog input only, and the migrations
# (about a minute and a half on a loaded machine).
BOUNDED_CASES=${BOUNDED_CASES:-filter,map,flatmap,select-key-repartition,merge-split,wordcount,groupby-count-uncached,groupbykey-aggregate,table-ops,table-regroup-aggregate,tumbling-count,tumbling-count-uncached,session-count-uncached,suppress-tumbling,suppress-session,join,left-join,join-rekeyed}

case $mode in
bounded) flags=(-shapes backlog -cases "$BOUNDED_CASES" -migration=true -timeout 150s) ;;
full) flags=(-results conformance/RESULTS.md -json conformance/results.json) ;;
*) echo "usage: conformance/run.sh [bounded|full] [driver flags...]" >&2; exit 2 ;;
esac

started=false
cleanup() {
	if $started; then
		scripts/kafka.sh down --brokers 1 || true
	fi
}
trap cleanup EXIT
if [ -z "${SLUICE_BROKERS:-}" ]; then
	if ! scripts/kafka.sh status --brokers 1 2>/dev/null | grep ' running ' >/dev/null; then
		scripts/kafka.sh up --brokers 1 >/dev/null
		started=true
	fi
	SLUICE_BROKERS=$(scripts/kafka.sh bootstrap --brokers 1)
fi

(cd conformance/java && mvn -q -B ${MVN_ARGS:-} package)
"$GO" run ./conformance/cmd/conform -brokers "$SLUICE_BROKERS" "${flags[@]}" "$@"
