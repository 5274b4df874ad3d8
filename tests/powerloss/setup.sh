#!/usr/bin/env bash
# Fills the plain disk before the mount: everything written here is durable
# (plfs adopts the backing directory as its durable state), so it is what
# "nothing that existed durably before is gone" is checked against.
#
#   setup.sh WORKLOAD      (run by powerloss.py: cwd = the cycle directory,
#                           $PL_ROOT = the backing directory, $CONVLOG = binary)
#
# Every workload finds an ended session with its export in conversations/
# (what yesterday's agent left). The ingest workloads also find an open log
# with a few records, named in ./pre-log (relative to the mount).
set -euo pipefail
w=${1:?workload}
: "${CONVLOG:?path to the convlog binary}" "${PL_ROOT:?}" "${PL_TESTS:?}"

case "$w" in
new-existing-unsynced)
    # The directory must not exist durably: the workload makes it with mkdir
    # under the mount. Something else durable still stands beside it.
    mkdir -p "$PL_ROOT/other"
    "$CONVLOG" demo --dir "$PL_ROOT/other" >/dev/null 2>&1
    ;;
*)
    "$CONVLOG" demo --dir "$PL_ROOT/conversations" >/dev/null 2>&1
    ;;
esac

case "$w" in
ingest-steady | two-writers)
    log=$("$CONVLOG" new --dir "$PL_ROOT/conversations")
    python3 "$PL_TESTS/gen.py" pre 5 | "$CONVLOG" ingest "$log" >/dev/null
    echo "${log#"$PL_ROOT"/}" >pre-log
    ;;
esac

python3 "$PL_TESTS/check.py" --manifest "$PL_ROOT" >manifest.json
