// Command testsummary makes `make test` readable: it follows `go test -json` as it runs, and at the end
// prints one summary of every part of the run (packages, tests passed, failed and skipped with the
// skip reasons grouped, the contract cases run).
//
// Usage:
//
//	go test -json ./... | testsummary -follow .tmp/test/unit.json [-v]
//	testsummary -report .tmp
//
// -follow copies its input to the file and prints what a reader of `go test` expects: a line per
// package (ok, FAIL, or no test files), the output of every failed test, and with -v every output line
// but "=== RUN". It exits 1 when a package or test failed, or when the input holds no result at all.
//
// -report reads DIR/test/*.json (one file per part: unit, race, fault) and DIR/contract (the JUnit
// reports of Newman, Schemathesis and the TypeScript SDK's node tests, the per-request counts, and the reason when the contract tests
// could not run) and prints the summary, ending with the plain line "N passed, N failed, N skipped".
// It exits 1 when anything failed or a part is missing.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

func main() {
	follow := flag.String("follow", "", "copy `go test -json` from stdin to this file and print it as go test would")
	verbose := flag.Bool("v", false, "with -follow: print every output line (but === RUN)")
	report := flag.String("report", "", "print the summary of the run whose results are under this directory")
	flag.Parse()
	switch {
	case *follow != "":
		f, err := os.Create(*follow)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
		r, err := followRun(io.TeeReader(os.Stdin, f), os.Stdout, *verbose)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
		if r.failed() || r.Packages == 0 {
			os.Exit(1)
		}
	case *report != "":
		ok, err := printReport(*report, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
		if !ok {
			os.Exit(1)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// event is one line of `go test -json` (test2json), with the build events of Go 1.24.
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
	Elapsed    float64
}

// result is what one `go test -json` run found.
type result struct {
	Packages, PackagesFailed, NoTests int
	Passed, Failed, Skipped           int
	FailedTests                       []string
	Skips                             map[string]int // grouped reason -> tests
}

func (r *result) failed() bool { return r.PackagesFailed > 0 || r.Failed > 0 }

// followRun reads test2json events from in, prints them for a person to out, and counts them.
func followRun(in io.Reader, out io.Writer, verbose bool) (*result, error) {
	r := &result{Skips: map[string]int{}}
	outputs := map[string][]string{} // package/test -> its output so far
	builds := map[string][]string{}  // import path -> its build output
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, string(line)) // go test's own words (a build error before any package)
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch e.Action {
		case "build-output":
			builds[e.ImportPath] = append(builds[e.ImportPath], e.Output)
		case "build-fail":
			fmt.Fprint(out, strings.Join(builds[e.ImportPath], ""))
		case "output":
			if verbose && !strings.HasPrefix(e.Output, "=== RUN") && !strings.HasPrefix(e.Output, "=== PAUSE") && !strings.HasPrefix(e.Output, "=== CONT") {
				fmt.Fprint(out, e.Output)
			}
			outputs[key] = append(outputs[key], e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				r.countPackage(e, outputs[key], out, verbose)
			} else {
				r.countTest(e, outputs[key], out, verbose)
			}
			delete(outputs, key)
		}
	}
	return r, sc.Err()
}

func (r *result) countPackage(e event, output []string, out io.Writer, verbose bool) {
	switch e.Action {
	case "pass":
		r.Packages++
		fmt.Fprintf(out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
	case "skip":
		r.NoTests++
		if !verbose {
			fmt.Fprintf(out, "?   \t%s\t[no test files]\n", e.Package)
		}
	case "fail":
		r.Packages++
		r.PackagesFailed++
		if !verbose { // the package's own output: a panic, a timeout, TestMain's words
			for _, l := range output {
				if !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "FAIL") {
					fmt.Fprint(out, l)
				}
			}
		}
		fmt.Fprintf(out, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
	}
}

func (r *result) countTest(e event, output []string, out io.Writer, verbose bool) {
	switch e.Action {
	case "pass":
		r.Passed++
	case "skip":
		r.Skipped++
		r.Skips[skipReason(output)]++
	case "fail":
		r.Failed++
		r.FailedTests = append(r.FailedTests, e.Package+" "+e.Test)
		if !verbose {
			for _, l := range output {
				if !strings.HasPrefix(l, "=== ") {
					fmt.Fprint(out, l)
				}
			}
		}
	}
}

var (
	// location is the file:line that testing puts before a test's message.
	location = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)
	// needs is internal/testenv's skip message: "MEDIAMESH_TEST_X is not set; this test needs what".
	needs = regexp.MustCompile(`^(MEDIAMESH_TEST_\w+) is not set; this test needs (.+)$`)
)

// skipReason is the reason a skipped test gave, in a form that groups: the server it needs and the
// variable to set, or its own message.
func skipReason(output []string) string {
	msg := ""
	for _, l := range output {
		if location.MatchString(l) {
			msg = strings.TrimSpace(location.ReplaceAllString(l, ""))
		}
	}
	if m := needs.FindStringSubmatch(msg); m != nil {
		what := m[2]
		for _, cut := range []string{" (", ", e.g.", "; "} {
			if i := strings.Index(what, cut); i > 0 {
				what = what[:i]
			}
		}
		return fmt.Sprintf("need %s: set %s or run .ci/run", what, m[1])
	}
	if msg == "" {
		return "no reason given"
	}
	return msg
}

// readRun counts a saved `go test -json` file.
func readRun(path string) (*result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return followRun(f, io.Discard, true)
}

// printReport writes the summary of the results under dir and reports whether all passed.
func printReport(dir string, out io.Writer) (bool, error) {
	ok := true
	passed, failed, skipped := 0, 0, 0
	fmt.Fprintln(out, "== summary")
	files, _ := filepath.Glob(filepath.Join(dir, "test", "*.json"))
	if len(files) == 0 {
		fmt.Fprintf(out, "go test: no results under %s/test\n", dir)
		ok = false
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		r, err := readRun(path)
		if err != nil {
			return false, err
		}
		fmt.Fprintf(out, "%-9s %d packages (%d failed, %d without tests): %d tests passed, %d failed, %d skipped\n",
			name+":", r.Packages, r.PackagesFailed, r.NoTests, r.Passed, r.Failed, r.Skipped)
		for _, t := range r.FailedTests {
			fmt.Fprintf(out, "          FAIL %s\n", t)
		}
		for _, s := range sortedSkips(r.Skips) {
			fmt.Fprintf(out, "          %d skipped: %s\n", r.Skips[s], s)
		}
		if r.failed() || r.Packages == 0 {
			ok = false
		}
		passed, failed, skipped = passed+r.Passed, failed+r.Failed, skipped+r.Skipped
	}
	c, err := readContract(filepath.Join(dir, "contract"))
	if err != nil {
		return false, err
	}
	switch {
	case c.NotRun != "":
		fmt.Fprintf(out, "contract: not run: %s\n", c.NotRun)
		skipped++
	case c.Suites == 0:
		fmt.Fprintln(out, "contract: no results (make test-contract did not finish)")
		ok = false
		failed++
	default:
		fmt.Fprintf(out, "contract: newman %d requests, %d assertions (%d failed); schemathesis %d runs, %d requests, %d operations checked (%d failed); TypeScript SDK %d tests (%d failed)\n",
			c.NewmanRequests, c.NewmanAssertions, c.NewmanFailed, c.STRuns, c.STRequests, c.STCases, c.STFailed, c.SDKTests, c.SDKFailed)
		passed += c.NewmanAssertions - c.NewmanFailed + c.STCases - c.STFailed + c.SDKTests - c.SDKFailed
		failed += c.NewmanFailed + c.STFailed + c.SDKFailed
		if c.NewmanFailed+c.STFailed+c.SDKFailed > 0 || c.Failed {
			ok = false
		}
		if c.Budget != "" {
			fmt.Fprintf(out, "          fuzzing budget %s s (MEDIAMESH_FUZZ_SECONDS; CI gives 630)", c.Budget)
			switch {
			case len(c.NoSuccess) == 0:
				fmt.Fprintln(out, ": every operation reached a 2xx")
			case c.Coverage == "report":
				fmt.Fprintf(out, ": %d operations reached no 2xx, reported, not failed (the gate holds from 630 s): %s\n",
					len(c.NoSuccess), strings.Join(c.NoSuccess, ", "))
			default:
				fmt.Fprintf(out, ": %d operations reached no 2xx: %s\n", len(c.NoSuccess), strings.Join(c.NoSuccess, ", "))
			}
		}
		if c.Failed {
			fmt.Fprintln(out, "          the contract run failed (coverage or the binary's log; see its output above)")
			failed++
		}
	}
	fmt.Fprintf(out, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	return ok && failed == 0, nil
}

func sortedSkips(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if m[out[i]] != m[out[j]] {
			return m[out[i]] > m[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
