#!/bin/bash
# What made this folder's runs: bench/scripts/realtime-runs.sh (the curve
# with stolen time sampled beside it), into this folder. Runs 1-4 had no
# speed probe yet; runs 5-8 had it (RUNS="5 6 7 8"), from speed-probe.txt.
exec "$(dirname "$0")/../../../../scripts/realtime-runs.sh" "$(dirname "$0")"
