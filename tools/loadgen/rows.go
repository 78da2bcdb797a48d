package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// rowsPath, set by -rows, is the file that every figure loadgen prints is also appended to, one
// tab-separated line each (scenario, value, unit, p50, p99), for tools/loadgen/bench.sh to gather
// the figures of a whole run, wrk's included, into one table (tools/loadgen/benchtable.sh).
var rowsPath string

// rowsLabel, set by -label, prefixes the scenario of every row.
var rowsLabel string

// row appends a figure to rowsPath, when set. Latencies of zero are left empty.
func row(scenario string, value float64, unit string, p50, p99 time.Duration) {
	if rowsPath == "" {
		return
	}
	f, err := os.OpenFile(rowsPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: rows:", err)
		return
	}
	defer f.Close()
	lat := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.Round(10 * time.Microsecond).String()
	}
	if rowsLabel != "" {
		scenario = rowsLabel + ": " + scenario
	}
	fmt.Fprintf(f, "%s\t%.3f\t%s\t%s\t%s\n", strings.ReplaceAll(scenario, "\t", " "), value, unit, lat(p50), lat(p99))
}
