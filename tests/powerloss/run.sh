#!/usr/bin/env bash
# convlog's power-loss suite: every workload under every mode, on plfs.
#
#   tests/powerloss/run.sh CYCLES SEED [MODE[:CYCLES]...]
#
# MODE is strict, prefix, pages, mix or process (default: strict prefix pages
# mix, then process with a quarter of the cycles). Each (workload, mode) pair
# runs CYCLES power cuts; then the control workload (a writer that acks before
# fdatasync) runs CYCLES strict cuts and must be caught losing records, and
# checker_selftest.sh plants broken promises in real images for check.py.
#
# Environment:
#   CONVLOG       the binary to test (default: target/release/convlog if built,
#                 else target/debug/convlog)
#   PL_PYTHON     a python3 that can import llfuse (default: python3)
#   PL_TOOL       the powerloss tool (default: ../shared/tools/powerloss beside
#                 the repository); it is only read, never written
#   PL_WORK       where cycles run and failing ones are kept (/tmp/powerloss)
#   PL_WORKLOADS  which workloads (default: all six)
#   PL_GRAIN      where prefix and pages modes may tear a write: 512 (sectors,
#                 the default here) or 4096 (pages, the tool's default, which
#                 tears only writes that cross a page and so rarely leaves a
#                 torn tail to check)
#   PL_VERBOSE=1  print every cycle, not only failures and summaries
#
# Exit 0 when every cycle kept every promise, the control was caught and the
# checker self-test passed; 1 otherwise. A replay command is printed for every failing cycle.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../.." && pwd))
cycles=${1:?usage: run.sh CYCLES SEED [MODE[:CYCLES]...]}
seed=${2:?usage: run.sh CYCLES SEED [MODE[:CYCLES]...]}
shift 2
if (($# == 0)); then
    set -- strict prefix pages mix "process:$(((cycles + 3) / 4))"
fi

tool=${PL_TOOL:-$root/../shared/tools/powerloss}
py=${PL_PYTHON:-python3}
work=${PL_WORK:-/tmp/powerloss}
grain=${PL_GRAIN:-512}
workloads=${PL_WORKLOADS:-new ingest-steady ingest-end demo two-writers new-existing-unsynced}
if [[ -z ${CONVLOG:-} ]]; then
    CONVLOG=$root/target/release/convlog
    [[ -x $CONVLOG ]] || CONVLOG=$root/target/debug/convlog
fi
CONVLOG=$(cd "$(dirname "$CONVLOG")" && pwd)/$(basename "$CONVLOG")
export CONVLOG PL_TESTS=$here PYTHONDONTWRITEBYTECODE=1

die() {
    echo "powerloss: $*" >&2
    exit 1
}
[[ -x $CONVLOG ]] || die "no convlog binary at $CONVLOG (cargo build first, or set CONVLOG)"
[[ -f $tool/powerloss.py ]] || die "no powerloss tool at $tool (set PL_TOOL)"
[[ -e /dev/fuse ]] || die "/dev/fuse is missing: this machine cannot mount FUSE"
"$py" -c 'import llfuse' 2>/dev/null || die "$py cannot import llfuse (pip install llfuse, or set PL_PYTHON)"

mkdir -p "$work"
summary=$work/convlog-summary-$seed.jsonl
full=$work/convlog-run-$seed.log
: >"$summary"
: >"$full"
echo "powerloss: convlog=$CONVLOG seed=$seed cycles=$cycles modes=$* grain=$grain (full log: $full)"

# after-exit: the chance that a cycle cuts the power only once the workload
# has exited, so what was printed last (paths, exports) is checked too.
after_exit() {
    case $1 in
    new | ingest-end | demo | new-existing-unsynced | control-nosync) echo 0.3 ;;
    *) echo 0.1 ;;
    esac
}

summarized() { grep -c "\"name\": \"$1\"" "$summary"; }

one() { # WORKLOAD MODE CYCLES [CHECKER-FLAGS]
    local w=$1 mode=$2 n=$3 flags=${4:-} name=convlog-$1-$2 try rc
    local cmd=("$py" "$tool/powerloss.py" run --name "$name" --seed "$seed"
        --cycles "$n" --mode "$mode" --after-exit "$(after_exit "$w")" --work "$work"
        --grain "$grain"
        --setup "bash '$here/setup.sh' $w"
        --workload "bash '$here/workload.sh' $w"
        --checker "python3 '$here/check.py' $w $flags")
    expected+=("$name")
    for try in 1 2; do
        "${cmd[@]}" --summary "$summary" 2>&1 |
            tee -a "$full" |
            if [[ ${PL_VERBOSE:-} == 1 ]]; then cat; else grep -v '^\[[^]]*\] cycle .* ok  '; fi
        rc=${PIPESTATUS[0]}
        # No summary line: powerloss.py itself broke (seen once: its calibration
        # lost the reply to its crash request). That is the tool, not a
        # finding, so it gets one more try; a second one fails the suite.
        if ((try == 1)) && [[ $(summarized "$name") == 0 ]]; then
            echo "powerloss: $name: powerloss.py ended without a summary (exit $rc); trying once more"
            continue
        fi
        break
    done
    if ((rc != 0)); then
        echo "   the same command line:"
        printf '   CONVLOG=%q PL_TESTS=%q' "$CONVLOG" "$PL_TESTS"
        printf ' %q' "${cmd[@]}"
        echo
    fi
}

expected=()
t0=$SECONDS
for spec in "$@"; do
    mode=${spec%%:*}
    n=$cycles
    [[ $spec == *:* ]] && n=${spec#*:}
    for w in $workloads; do
        one "$w" "$mode" "$n"
    done
done
one control-nosync strict "$cycles" --expect-loss
PL_TOOL=$tool PL_WORK=$work PL_PYTHON=$py bash "$here/checker_selftest.sh"
selftest=$?
echo "powerloss: $((SECONDS - t0)) s"

python3 - "$summary" "$selftest" "${expected[@]}" <<'PY'
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
ok = sys.argv[2] == '0'
# Every cycle counts as a test, and so do the control's verdict, the
# checker self-test and each run that produced no summary at all.
tests = [ok]
for name in sys.argv[3:]:
    if not any(r['name'] == name for r in rows):
        print('FAIL %s: powerloss.py produced no summary (see the full log)' % name)
        ok = False
        tests.append(False)
print('%-24s %-8s %6s %6s %6s %6s %6s %6s %7s' % (
    'workload', 'mode', 'cycles', 'failed', 'acked', 'lost', 'torn', 'holes', 'printed'))
by_mode = {}
for r in rows:
    name = r['name'][len('convlog-'):]
    w, mode = name.rsplit('-', 1)
    t = r['totals']
    print('%-24s %-8s %6d %6d %6d %6d %6d %6d %7d' % (
        w, mode, r['cycles'], r['failed'], t.get('acked', 0), t.get('lost', 0),
        t.get('torn_tails', 0), t.get('holes', 0), t.get('printed_logs', 0)))
    if w == 'control-nosync':
        caught = t.get('cycles_with_loss', 0)
        good = r['failed'] == 0 and caught >= r['cycles'] // 2 and t.get('missing_printed', 0) > 0
        print('%s control: the checker caught acked records lost in %d of %d cycles and a printed '
              'path missing in %d (a writer that acks before fdatasync must be caught)'
              % ('PASS' if good else 'FAIL', caught, r['cycles'], t.get('missing_printed', 0)))
        ok &= good
        tests.append(good)
        continue
    m = by_mode.setdefault(mode, {'cycles': 0, 'failed': 0, 'acked': 0, 'lost': 0, 'torn': 0,
                                  'holes': 0, 'bad': []})
    m['cycles'] += r['cycles']
    m['failed'] += r['failed']
    m['acked'] += t.get('acked', 0)
    m['lost'] += t.get('lost', 0)
    m['torn'] += t.get('torn_tails', 0)
    m['holes'] += t.get('holes', 0)
    tests += [True] * (r['cycles'] - r['failed']) + [False] * r['failed']
    if r['failed']:
        m['bad'].append(w)
        ok = False
for mode, m in by_mode.items():
    print('mode %-8s cycles=%d acks=%d lost=%d torn_tails=%d holes=%d failed_cycles=%d%s' % (
        mode, m['cycles'], m['acked'], m['lost'], m['torn'], m['holes'], m['failed'],
        ' (failing workloads: %s)' % ', '.join(m['bad']) if m['bad'] else ''))
print('POWERLOSS %s' % ('PASSED' if ok else 'FAILED'))
print('powerloss: %d passed, %d failed' % (tests.count(True), tests.count(False)))
sys.exit(0 if ok else 1)
PY
