#!/usr/bin/env bash
# Every benchmark, one after another, on this machine; each prints its own figures and ratios.
# The scale benchmarks need a database filled once by:
#   uv run python bench/generate.py --database newsdesk_scale
# Output goes to the terminal and to bench/results/<name>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
missed=()
run() {
    local name=$1; shift
    printf '\n===== %s: %s\n' "$name" "$*"
    # A benchmark that misses its target exits non-zero; the others still run.
    uv run python "$@" 2>&1 | tee "bench/results/$name.txt" || missed+=("$name")
}
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
run extraction bench/extraction.py --repeat 3
run tagging bench/tagging.py
run tagging_quality bench/tagging_quality.py
run topic_models bench/topic_models.py
run pages bench/pages.py --database "${SCALE_DB:-newsdesk_scale}" --requests 200
run http_load bench/http_load.py --database "${SCALE_DB:-newsdesk_scale}" --seconds 30 --connections 32
run pipeline bench/pipeline.py --profile never
run worker_memory bench/worker_memory.py
run faults bench/faults.py --retag-database "${SCALE_DB:-newsdesk_scale}" --retag-seconds 120
printf '\nbenchmarks below a target: %s\n' "${missed[*]:-none}"
