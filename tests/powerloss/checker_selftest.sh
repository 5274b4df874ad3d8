#!/usr/bin/env bash
# Check of the checker: each broken promise, planted in a real post-crash
# image, must be reported; the image as it came must pass.
#
#   checker_selftest.sh      (env as for run.sh: CONVLOG, PL_PYTHON, PL_TOOL,
#                             PL_WORK, PL_TESTS; run.sh calls it)
#
# Two cycles are kept: ingest-end cut after it finished (an ended log with
# 60 acks and its export) and ingest-steady cut after it finished (an open
# log). Each case copies the image, changes one thing and runs check.py.
set -uo pipefail
: "${CONVLOG:?}" "${PL_TOOL:?}" "${PL_WORK:?}" "${PL_TESTS:?}"
py=${PL_PYTHON:-python3}
base=$PL_WORK/convlog-checker-selftest
rm -rf "$base"

keep() { # WORKLOAD -> prints the kept cycle dir
    local try
    for try in 1 2; do # a second try only if the tool itself broke (see run.sh)
        "$py" "$PL_TOOL/powerloss.py" run --name "convlog-checker-selftest/$1" --work "$PL_WORK" \
            --cycles 1 --seed 1 --mode strict --after-exit 1 --keep \
            --setup "bash '$PL_TESTS/setup.sh' $1" --workload "bash '$PL_TESTS/workload.sh' $1" \
            --checker "python3 '$PL_TESTS/check.py' $1" >>"$base.$1.out" 2>&1
        [[ -d $base/$1/c000/out ]] && break
    done
    echo "$base/$1/c000"
}
mkdir -p "$base"
ended=$(keep ingest-end)
open=$(keep ingest-steady)
for d in "$ended" "$open"; do
    [[ -d $d/out ]] || {
        echo "checker self-test: FAIL: no kept cycle in $d (see $base.*.out)"
        exit 1
    }
done

fails=0
# case NAME IMAGE MODE EXPECT CHANGE...: EXPECT is "pass", "pass+TEXT" (no
# violation, and TEXT in the output) or a piece of the VIOLATION line
# check.py must print.
case_() {
    local name=$1 src=$2 mode=$3 expect=$4
    shift 4
    local c=$base/case-${name// /-}
    rm -rf "$c"
    cp -a "$src" "$c"
    rm -rf "$c/probe"
    (cd "$c/out" && eval "$*")
    local out rc
    out=$(cd "$c" && PL_OUT=$c/out PL_MNT=$src/mnt PL_STDOUT=$c/stdout PL_CYCLE_DIR=$c \
        PL_MODE=$mode python3 "$PL_TESTS/check.py" selftest 2>&1)
    rc=$?
    if [[ $expect == pass* ]]; then
        local text=
        [[ $expect == pass+* ]] && text=${expect#pass+}
        if ((rc == 0)) && grep -qF -- "$text" <<<"$out"; then
            echo "PASS $name: no violation"
            return
        fi
    elif ((rc == 1)) && grep -q -- "VIOLATION: .*$expect" <<<"$out"; then
        echo "PASS $name: reported ($expect)"
        return
    fi
    echo "FAIL $name: exit $rc, wanted ${expect}:"
    sed 's/^/   | /' <<<"$out" | tail -8
    fails=$((fails + 1))
}

log='$(ls conversations/*.jsonl | tail -1)'
first='$(ls conversations/*.json | head -1)'
case_ "untouched ended image" "$ended" strict pass :
case_ "untouched open image" "$open" strict pass :
case_ "acked record deleted" "$ended" strict "acknowledged records lost" "sed -i 10d $log"
case_ "acked content changed" "$ended" strict "acknowledged records lost" \
    "sed -i '5s/A#4 /A#4x/' $log"
case_ "damage before the acks, pages mode" "$ended" pages "only intact or a torn tail" \
    "sed -i '5s/A#4 /A#4x/' $log"
case_ "reported export cut short" "$ended" strict "is not whole" \
    "truncate -s -10 \"\$(ls conversations/*.json | tail -1)\""
case_ "durable export removed" "$ended" strict "existed durably before" "rm $first"
case_ "durable log cut" "$open" strict "durably held before are changed" \
    "f=\$(ls conversations/*.jsonl | head -1); truncate -s 100 \$f"
case_ "printed log removed" "$ended" strict "was printed" "rm $log"
case_ "torn tail, then the probe append" "$open" strict 'pass+"repaired": 1' "printf '{\"crc\":\"00' >>$log"
if ((fails)); then
    echo "checker self-test: FAILED ($fails cases)"
    exit 1
fi
echo "checker self-test: PASSED"
