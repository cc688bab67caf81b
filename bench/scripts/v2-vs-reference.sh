#!/usr/bin/env bash
# Repeats `loadgen all --skip-idle --spawn --spawn-reference` RUNS times
# (default 5): each run measures the limits, then the same v2 workload against
# the release server and against the Python reference stand-in. Prints one
# table row per run and the medians. Loopback only; every server it starts is
# stopped by loadgen. A run whose checks fail is kept and marked FAIL.
#
#   bench/scripts/v2-vs-reference.sh [RUNS] [OUT_DIR] [extra loadgen flags...]
#
# Default workload: --messages 5000 (the stand-in manages a few hundred
# messages per second at best here); pass e.g. --messages 20000 to change it.
# ORIGINAL=DIR runs the original reference server instead of the stand-in,
# from a checkout of github.com/rdar-lab/messaging-system at DIR.
set -uo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
out=${2:-bench/results}
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
mkdir -p "$out"
# LOADGEN=PATH takes a load generator built already (such as
# native-loadgen.sh's); the server is then target/release/server as it is.
if [ -n "${LOADGEN:-}" ]; then
    loadgen=("$LOADGEN")
    server=(--server-bin target/release/server)
else
    cargo build --release -p sealpost-server -p sealpost-bench >/dev/null || exit 1
    loadgen=(target/release/loadgen)
    server=()
fi
if [ -n "${ORIGINAL:-}" ]; then
    reference=(--spawn-original-reference "$ORIGINAL")
    label=original
else
    reference=(--spawn-reference)
    label=stand-in
fi
for i in $(seq 1 "$runs"); do
    "${loadgen[@]}" all --skip-idle --spawn "${server[@]}" "${reference[@]}" --messages 5000 \
        --json "$out/v2-vs-reference-$i.json" "$@" || echo "(run $i: a check failed)"
done
python3 - "$out" "$runs" "$label" <<'PY'
import json, statistics, sys
out, runs, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = []
for i in range(1, runs + 1):
    try:
        d = json.load(open(f"{out}/v2-vs-reference-{i}.json"))
    except (OSError, ValueError):
        continue
    s = {o["name"]: o for o in d["scenarios"]}
    if "v2" not in s or "v2-reference" not in s:
        continue
    v2, ref, lim = s["v2"]["figures"], s["v2-reference"]["figures"], s["limits"]["figures"]
    wal1 = next(r["rows_per_s"] for r in lim["sqlite_server_durability"] if r["rows_per_commit"] == 1)
    rows.append(dict(run=i, load=d["machine"]["load_before"].split()[0],
                     send=v2["send_msgs_per_s"], e2e=v2["e2e_msgs_per_s"],
                     rsend=ref["send_msgs_per_s"], re2e=ref["e2e_msgs_per_s"],
                     ratio=v2["e2e_msgs_per_s"] / ref["e2e_msgs_per_s"],
                     sratio=v2["send_msgs_per_s"] / ref["send_msgs_per_s"],
                     pyc=lim["sqlite_python_defaults"]["rows_per_s"], wal1=wal1,
                     conn=lim["connects_per_s"],
                     ok=s["v2"]["passed"] and s["v2-reference"]["passed"],
                     problems=s["v2"]["problems"] + s["v2-reference"]["problems"]))
print(f"| run | load (1 min) | Sealpost send msg/s | Sealpost e2e msg/s | {label} send msg/s | {label} e2e msg/s | ratio e2e | ratio send | SQLite python-defaults commits/s | SQLite WAL+FULL commits/s | loopback conn/s | checks |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['run']} | {r['load']} | {r['send']:,.0f} | {r['e2e']:,.0f} | {r['rsend']:,.0f} | {r['re2e']:,.0f} | "
          f"{r['ratio']:.1f}x | {r['sratio']:.1f}x | {r['pyc']:,.0f} | {r['wal1']:,.0f} | {r['conn']:,.0f} | "
          f"{'pass' if r['ok'] else 'FAIL: ' + '; '.join(r['problems'])} |")
if rows:
    m = lambda k: statistics.median(r[k] for r in rows)
    print(f"| median | | {m('send'):,.0f} | {m('e2e'):,.0f} | {m('rsend'):,.0f} | {m('re2e'):,.0f} | "
          f"{m('ratio'):.1f}x | {m('sratio'):.1f}x | {m('pyc'):,.0f} | {m('wal1'):,.0f} | {m('conn'):,.0f} | |")
PY
