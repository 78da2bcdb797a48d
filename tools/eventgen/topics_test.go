package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTopics: one constant per topic, named after it, whatever the number of schemas naming it;
// a schema without a valid topic is refused.
func TestTopics(t *testing.T) {
	code, err := Topics("testdata", "eventbus")
	if err != nil {
		t.Fatal(err)
	}
	src := string(code)
	for _, want := range []string{"package eventbus", `TopicSample = "sample.events"`, "var Topics = []string{TopicSample}"} {
		if !strings.Contains(src, want) {
			t.Errorf("generated topics lack %q:\n%s", want, src)
		}
	}
	if n := strings.Count(src, `"sample.events"`); n != 1 {
		t.Errorf("sample.events declared %d times, want once:\n%s", n, src)
	}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bad"), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := `{"type": "record", "name": "Bad", "mediamesh.topic": "Not A Topic", "fields": []}`
	if err := os.WriteFile(filepath.Join(dir, "bad", "bad.thing.avsc"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Topics(dir, "eventbus"); err == nil || !strings.Contains(err.Error(), "mediamesh.topic") {
		t.Errorf("a schema with topic %q: err %v, want one naming the attribute", "Not A Topic", err)
	}
}
