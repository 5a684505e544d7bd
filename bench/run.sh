#!/usr/bin/env bash
# bench/run.sh [harness flags...] — the side-by-side benchmark end to end:
# builds the Go contender and the Java project, makes sure the project's
# 1-broker cluster (scripts/kafka.sh) runs, and runs bench/harness with the
# given flags (e.g. -quick). A broker this script started is stopped when it
# ends; a broker that was already running is left alone.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}

started=false
cleanup() {
	if $started; then
		scripts/kafka.sh down --brokers 1 || true
	fi
}
trap cleanup EXIT
if ! scripts/kafka.sh status --brokers 1 2>/dev/null | grep ' running ' >/dev/null; then
	scripts/kafka.sh up --brokers 1 >/dev/null
	started=true
fi

"$GO" build -o bench/.bin/contender ./bench/contender
# BASELINE=<commit>: also build the contender of that commit and run its word
# count beside this build's, so a change is a ratio within one run.
baseline_args=()
if [ -n "${BASELINE:-}" ]; then
	bt=$(mktemp -d)
	git worktree add -q --detach "$bt/src" "$BASELINE"
	(cd "$bt/src" && "$GO" build -o "$ROOT/bench/.bin/contender-baseline" ./bench/contender)
	git worktree remove --force "$bt/src"
	rm -rf "$bt"
	baseline_args=(-baseline-bin bench/.bin/contender-baseline)
fi
(cd bench/java && mvn -q -B ${MVN_ARGS:-} package)
"$GO" run ./bench/harness -brokers "$(scripts/kafka.sh bootstrap --brokers 1)" "${baseline_args[@]}" "$@"
