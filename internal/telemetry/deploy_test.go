package telemetry

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var metricRE = regexp.MustCompile(`\bmediamesh_[a-z_]+`)

// TestDeployReferencesRealMetrics checks that the alert rules and the Grafana dashboard under deploy/
// parse, and that every mediamesh_* metric they use is one the code registers.
func TestDeployReferencesRealMetrics(t *testing.T) {
	var source strings.Builder
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == "gen") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			source.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code := source.String()

	alerts, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(alerts, &rules); err != nil || len(rules.Groups) == 0 {
		t.Fatalf("alerts.yml: %v", err)
	}
	dashboard, err := os.ReadFile("../../deploy/grafana/mediamesh.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(dashboard, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	for _, m := range metricRE.FindAllString(string(alerts)+string(dashboard), -1) {
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
		if !strings.Contains(code, `"`+name+`"`) {
			t.Errorf("deploy/ uses %s, which no code registers", m)
		}
	}
}
