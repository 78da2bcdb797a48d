#!/usr/bin/env bash
# Prints the figures a benchmark run gathered (loadgen -rows, wrk.sh with BENCH_ROWS, bench.sh's own
# lines: tab-separated scenario, value, unit, p50, p99) as one table, each throughput beside its
# ratio to the first bare echo handler row of the run, so runs on a noisy machine compare.
#   tools/loadgen/benchtable.sh ROWS_FILE
set -euo pipefail
awk -F'\t' '
  $1 ~ /^bare echo handler/ && $3 == "req/s" && echo == "" { echo = $2 }
  { scenario[NR] = $1; value[NR] = $2; unit[NR] = $3; p50[NR] = $4; p99[NR] = $5; n = NR }
  END {
    printf "%-64s %12s %-9s %8s %10s %10s\n", "scenario", "value", "unit", "ratio", "p50", "p99"
    for (i = 1; i <= n; i++) {
      ratio = ""
      if (echo > 0 && unit[i] ~ /\/s$/) ratio = sprintf("%.4f", value[i] / echo)
      v = (unit[i] ~ /\/s$|MB/) ? sprintf("%.0f", value[i]) : sprintf("%.2f", value[i])
      printf "%-64s %12s %-9s %8s %10s %10s\n", scenario[i], v, unit[i], ratio, p50[i], p99[i]
    }
  }' "${1:?usage: benchtable.sh ROWS_FILE}"
