#!/bin/bash
# What made this folder's runs: bench/scripts/realtime-runs.sh (the speed
# probe, then the curve with stolen time sampled beside it), into this folder.
CURVE=5000,50000,0.5x exec "$(dirname "$0")/../../../../scripts/realtime-runs.sh" "$(dirname "$0")"
