package main

import (
	"bufio"
	"encoding/xml"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// contract is what integration/contract/run.sh left in .tmp/contract.
type contract struct {
	NotRun                                         string // why the run could not start (not-run)
	Failed                                         bool   // run.sh exited non-zero (status)
	Suites                                         int    // JUnit reports found
	NewmanRequests, NewmanAssertions, NewmanFailed int
	STRuns, STCases, STFailed                      int
	STRequests                                     int // requests the Schemathesis runs made (counts.tsv)
	SDKTests, SDKFailed                            int // the TypeScript SDK's node tests (sdk.xml)
	// Budget is the fuzzing budget in seconds and Coverage "gate" or "report" (budget); NoSuccess the
	// operations that got no 2xx (no-2xx), a failure under the gate, a note under report.
	Budget, Coverage string
	NoSuccess        []string
}

// junitCase is a test case of a JUnit report.
type junitCase struct {
	Failures []struct{} `xml:"failure"`
	Errors   []struct{} `xml:"error"`
}

// junit is the part of a JUnit report that Newman, Schemathesis and node's test runner write (node
// puts its top-level tests right under testsuites).
type junit struct {
	Cases  []junitCase `xml:"testcase"`
	Suites []struct {
		Cases []junitCase `xml:"testcase"`
	} `xml:"testsuite"`
}

func readContract(dir string) (contract, error) {
	var c contract
	if b, err := os.ReadFile(filepath.Join(dir, "not-run")); err == nil {
		c.NotRun = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		c.Failed = strings.TrimSpace(string(b)) != "0"
	}
	if b, err := os.ReadFile(filepath.Join(dir, "budget")); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			c.Budget, c.Coverage = f[0], f[1]
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "no-2xx")); err == nil {
		c.NoSuccess = strings.Fields(strings.ReplaceAll(string(b), " ", "/"))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, err
		}
		var j junit
		if err := xml.Unmarshal(b, &j); err != nil {
			return c, errors.New(path + ": " + err.Error())
		}
		c.Suites++
		if strings.HasPrefix(filepath.Base(path), "sdk") {
			for _, tc := range j.Cases {
				c.SDKTests++
				if len(tc.Failures)+len(tc.Errors) > 0 {
					c.SDKFailed++
				}
			}
			continue
		}
		newman := strings.HasPrefix(filepath.Base(path), "newman-")
		if !newman {
			c.STRuns++
		}
		for _, s := range j.Suites {
			if newman {
				c.NewmanRequests++
			}
			for _, tc := range s.Cases {
				failed := len(tc.Failures)+len(tc.Errors) > 0
				switch {
				case newman:
					c.NewmanAssertions++
					if failed {
						c.NewmanFailed++
					}
				default:
					c.STCases++
					if failed {
						c.STFailed++
					}
				}
			}
		}
	}
	f, err := os.Open(filepath.Join(dir, "counts.tsv"))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Count(sc.Text(), "\t") == 2 {
			c.STRequests++
		}
	}
	return c, sc.Err()
}
