package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run is a `go test -json` stream as test2json writes it: a passing package with a skipped
// PostgreSQL subtest and one skipped for a reason of its own, a failing package, one without tests.
const run = `{"Action":"start","Package":"m/a"}
{"Action":"run","Package":"m/a","Test":"TestOK"}
{"Action":"output","Package":"m/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"m/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"m/a","Test":"TestOK","Elapsed":0}
{"Action":"output","Package":"m/a","Test":"TestApply/postgres","Output":"    databasetest.go:40: MEDIAMESH_TEST_POSTGRES_URL is not set; this test needs a PostgreSQL server, e.g. postgres://u:p@127.0.0.1:5432/db\n"}
{"Action":"output","Package":"m/a","Test":"TestApply/postgres","Output":"--- SKIP: TestApply/postgres (0.00s)\n"}
{"Action":"skip","Package":"m/a","Test":"TestApply/postgres","Elapsed":0}
{"Action":"output","Package":"m/a","Test":"TestOther/postgres","Output":"    databasetest.go:40: MEDIAMESH_TEST_POSTGRES_URL is not set; this test needs a PostgreSQL server, e.g. postgres://u:p@127.0.0.1:5432/db\n"}
{"Action":"skip","Package":"m/a","Test":"TestOther/postgres","Elapsed":0}
{"Action":"output","Package":"m/a","Test":"TestRedis","Output":"    redis.go:84: redis-server is not on PATH; this test runs a Redis of its own\n"}
{"Action":"skip","Package":"m/a","Test":"TestRedis","Elapsed":0}
{"Action":"pass","Package":"m/a","Elapsed":0.5}
{"Action":"output","Package":"m/b","Test":"TestBroken","Output":"=== RUN   TestBroken\n"}
{"Action":"output","Package":"m/b","Test":"TestBroken","Output":"    b_test.go:9: got 2, want 3\n"}
{"Action":"output","Package":"m/b","Test":"TestBroken","Output":"--- FAIL: TestBroken (0.00s)\n"}
{"Action":"fail","Package":"m/b","Test":"TestBroken","Elapsed":0}
{"Action":"fail","Package":"m/b","Elapsed":0.1}
{"Action":"output","Package":"m/c","Output":"?   \tm/c\t[no test files]\n"}
{"Action":"skip","Package":"m/c","Elapsed":0}
`

func TestFollow(t *testing.T) {
	var out bytes.Buffer
	r, err := followRun(strings.NewReader(run), &out, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Packages != 2 || r.PackagesFailed != 1 || r.NoTests != 1 || r.Passed != 1 || r.Failed != 1 || r.Skipped != 3 {
		t.Errorf("counts: %+v", r)
	}
	if got := r.Skips["need a PostgreSQL server: set MEDIAMESH_TEST_POSTGRES_URL or run .ci/run"]; got != 2 {
		t.Errorf("skips grouped: %v", r.Skips)
	}
	if r.Skips["redis-server is not on PATH; this test runs a Redis of its own"] != 1 {
		t.Errorf("a skip's own reason: %v", r.Skips)
	}
	for _, want := range []string{"ok  \tm/a\t0.500s", "b_test.go:9: got 2, want 3", "--- FAIL: TestBroken", "FAIL\tm/b", "?   \tm/c\t[no test files]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "TestOK") {
		t.Errorf("a passing test's output is printed:\n%s", out.String())
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("test/unit.json", run)
	write("contract/newman-cms.xml", `<?xml version="1.0"?><testsuites><testsuite name="login"><testcase name="status"/><testcase name="schema"><failure message="x"/></testcase></testsuite><testsuite name="me"><testcase name="status"/></testsuite></testsuites>`)
	write("contract/cms-rest.xml", `<testsuites><testsuite name="schemathesis"><testcase name="GET /a"/><testcase name="POST /a"/></testsuite></testsuites>`)
	write("contract/sdk.xml", `<?xml version="1.0" encoding="utf-8"?><testsuites><testcase name="lists" classname="test"/><testcase name="signs in" classname="test"/></testsuites>`)
	write("contract/counts.tsv", "cms-rest\tlistPrograms\t200\ncms-rest\tlistPrograms\t422\n")
	write("contract/status", "0\n")
	write("contract/budget", "105 report\n")
	write("contract/no-2xx", "cms createProgram\ndiscovery refreshToken\n")
	var out bytes.Buffer
	ok, err := printReport(dir, &out)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Errorf("a failed test and a failed assertion reported as success:\n%s", out.String())
	}
	for _, want := range []string{
		"unit:     2 packages (1 failed, 1 without tests): 1 tests passed, 1 failed, 3 skipped",
		"FAIL m/b TestBroken",
		"2 skipped: need a PostgreSQL server: set MEDIAMESH_TEST_POSTGRES_URL or run .ci/run",
		"contract: newman 2 requests, 3 assertions (1 failed); schemathesis 1 runs, 2 requests, 2 operations checked (0 failed); TypeScript SDK 2 tests (0 failed)",
		"fuzzing budget 105 s (MEDIAMESH_FUZZ_SECONDS; CI gives 630): 2 operations reached no 2xx, reported, not failed (the gate holds from 630 s): cms/createProgram, discovery/refreshToken",
		"\n7 passed, 2 failed, 3 skipped\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	// Contract tests that could not run are a skip with its reason, never a silent pass.
	for _, f := range []string{"contract/newman-cms.xml", "contract/cms-rest.xml", "contract/sdk.xml", "contract/counts.tsv", "contract/status", "test/unit.json"} {
		os.Remove(filepath.Join(dir, f))
	}
	write("test/unit.json", strings.ReplaceAll(strings.ReplaceAll(run, `"fail"`, `"pass"`), "--- FAIL", "--- PASS"))
	write("contract/not-run", "schemathesis (st) is not installed: pip install schemathesis")
	out.Reset()
	ok, err = printReport(dir, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !strings.Contains(out.String(), "contract: not run: schemathesis (st) is not installed") {
		t.Errorf("not run: ok=%v\n%s", ok, out.String())
	}

	// No contract results and no reason: the run did not finish, which fails.
	os.Remove(filepath.Join(dir, "contract/not-run"))
	out.Reset()
	if ok, _ := printReport(dir, &out); ok || !strings.Contains(out.String(), "contract: no results") {
		t.Errorf("missing contract results pass:\n%s", out.String())
	}
}
