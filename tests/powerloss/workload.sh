#!/usr/bin/env bash
# The workloads, run under the plfs mount by powerloss.py until the power is
# cut at a random filesystem request.
#
#   workload.sh NAME     ($PL_MNT = mount point, cwd = the cycle directory,
#                         $CONVLOG = binary, $PL_TESTS = this directory)
#
# What the checker reads: stdout (the log and export paths convlog printed)
# and, per ingest writer W, ./ingest.W (the log it writes to, recorded before
# it starts) and ./acks.W (`ingest --ack` output, straight from convlog). The
# cycle directory is on the real disk, not under the mount, so it keeps
# everything that was printed before the cut.
set -u
w=${1:?workload}
: "${CONVLOG:?}" "${PL_MNT:?}" "${PL_TESTS:?}"
gen() { python3 "$PL_TESTS/gen.py" "$@"; }

# ingest WRITER LOG GEN-ARGS... [-- INGEST-ARGS...]
ingest() {
    local writer=$1 log=$2
    shift 2
    local gargs=() iargs=()
    while (($#)); do
        if [[ $1 == -- ]]; then
            shift
            iargs=("$@")
            break
        fi
        gargs+=("$1")
        shift
    done
    echo "$log" >"ingest.$writer"
    gen "$writer" "${gargs[@]}" | "$CONVLOG" ingest "$log" --ack "${iargs[@]}" >"acks.$writer"
}

case "$w" in
new)
    # Into a directory that does not exist yet (two levels), then into the
    # durable one the setup left, twice in one second (…_2).
    "$CONVLOG" new --dir "$PL_MNT/fresh/conversations" || exit
    "$CONVLOG" new --dir "$PL_MNT/conversations" || exit
    "$CONVLOG" new --dir "$PL_MNT/conversations" || exit
    ;;
ingest-steady)
    # A live agent: lines trickle in, so most batches hold one to three records.
    ingest A "$PL_MNT/$(cat pre-log)" 40 --pause 0.004 --burst 2
    ;;
ingest-end)
    log=$("$CONVLOG" new --dir "$PL_MNT/conversations") || exit
    echo "$log"
    ingest A "$log" 60 --pause 0.002 --burst 7 -- --end || exit
    echo "export: ${log%.jsonl}.json"
    ;;
demo)
    "$CONVLOG" demo --dir "$PL_MNT/conversations" 2>/dev/null
    ;;
two-writers)
    log="$PL_MNT/$(cat pre-log)"
    ingest A "$log" 30 --pause 0.003 --burst 2 &
    ingest B "$log" 30 --pause 0.003 --burst 3 &
    wait
    ;;
new-existing-unsynced)
    # A directory whose own entry was never made durable (a plain mkdir, or a
    # process killed between mkdir and the parent's fsync), then a session.
    mkdir "$PL_MNT/conversations" || exit
    log=$("$CONVLOG" new --dir "$PL_MNT/conversations") || exit
    echo "$log"
    ingest A "$log" 20 --pause 0.004 --burst 2
    ;;
control-nosync)
    # Check of the checker: a writer that acks before fdatasync and prints a
    # path whose directory entry it never synced (see control_writer.py).
    mkdir -p "$PL_MNT/conversations" || exit
    python3 "$PL_TESTS/control_writer.py" "$PL_MNT/conversations" 30
    ;;
*)
    echo "workload.sh: unknown workload $w" >&2
    exit 2
    ;;
esac
