package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestGenerateGolden(t *testing.T) {
	got, err := Generate(filepath.Join("testdata", "sample"), "sampleevents")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "sample.registry.gen.go.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("generated code differs from %s (run go test ./tools/eventgen -update):\n%s", golden, got)
	}

	again, err := Generate(filepath.Join("testdata", "sample"), "sampleevents")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Error("two runs produced different output")
	}
}

func TestRunWritesFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "registry.gen.go")
	var stderr bytes.Buffer
	if code := run([]string{"-pkg", "sampleevents", "-o", out, filepath.Join("testdata", "sample")}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want, err := os.ReadFile(filepath.Join("testdata", "sample.registry.gen.go.golden"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("written file differs from the golden file")
	}

	if code := run([]string{"-o", out}, &stderr); code != 2 {
		t.Errorf("missing -pkg and folder: exit %d, want 2", code)
	}
}

const validSchema = `{
  "type": "record", "name": "ThingDone", "namespace": "mediamesh.thing.v1", "doc": "Done.",
  "mediamesh.event_type": "thing.done", "mediamesh.topic": "thing.events",
  "fields": [
    {"name": "event_id", "type": "string", "doc": "Id."},
    {"name": "occurred_at", "type": "long", "doc": "When."},
    {"name": "aggregate_id", "type": "string", "doc": "Aggregate."},
    {"name": "trace_id", "type": "string", "doc": "Trace."},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["a", "b"]}, "doc": "Kind."}
  ]
}`

func TestGenerateRejects(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name:  "file not named after the event type",
			files: map[string]string{"thing.other.avsc": validSchema},
			want:  "must be named thing.done.avsc",
		},
		{
			name:  "missing envelope field",
			files: map[string]string{"thing.done.avsc": strings.Replace(validSchema, `"trace_id"`, `"trace"`, 1)},
			want:  `missing envelope field "trace_id"`,
		},
		{
			name:  "missing event type attribute",
			files: map[string]string{"thing.done.avsc": strings.Replace(validSchema, `"mediamesh.event_type"`, `"event_type"`, 1)},
			want:  "mediamesh.event_type",
		},
		{
			name:  "bad namespace",
			files: map[string]string{"thing.done.avsc": strings.Replace(validSchema, `mediamesh.thing.v1`, `thing`, 1)},
			want:  "does not match mediamesh.<domain>.v<N>",
		},
		{
			name:  "field without doc",
			files: map[string]string{"thing.done.avsc": strings.Replace(validSchema, `, "doc": "Kind."`, ``, 1)},
			want:  "has no doc",
		},
		{
			name: "topics differ",
			files: map[string]string{
				"thing.done.avsc": validSchema,
				"thing.undone.avsc": strings.NewReplacer(`"ThingDone"`, `"ThingUndone"`, `"thing.done"`, `"thing.undone"`,
					`"thing.events"`, `"other.events"`).Replace(validSchema),
			},
			want: "topic",
		},
		{
			name: "shared named type differs",
			files: map[string]string{
				"thing.done.avsc": validSchema,
				"thing.undone.avsc": strings.NewReplacer(`"ThingDone"`, `"ThingUndone"`, `"thing.done"`, `"thing.undone"`,
					`["a", "b"]`, `["a", "c"]`).Replace(validSchema),
			},
			want: "named type mediamesh.thing.v1.Kind differs",
		},
		{
			name:  "invalid schema",
			files: map[string]string{"thing.done.avsc": `{"type": "record"}`},
			want:  "thing.done.avsc",
		},
		{
			name:  "no schemas",
			files: map[string]string{},
			want:  "no .avsc files",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Generate(dir, "thingevents")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestGenerateValid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "thing.done.avsc"), []byte(validSchema), 0o644); err != nil {
		t.Fatal(err)
	}
	code, err := Generate(dir, "thingevents")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`TopicThingEvents = "thing.events"`, `TypeThingDone = "thing.done"`, `KindA = "a"`} {
		if !bytes.Contains(code, []byte(want)) {
			t.Errorf("generated code lacks %s", want)
		}
	}
}

func TestPascal(t *testing.T) {
	for in, want := range map[string]string{
		"content.events":    "ContentEvents",
		"full_rebuild":      "FullRebuild",
		"ADMIN":             "Admin",
		"ContentCreated":    "ContentCreated",
		"discovery-events":  "DiscoveryEvents",
		"search.index.done": "SearchIndexDone",
	} {
		if got := pascal(in); got != want {
			t.Errorf("pascal(%q) = %q, want %q", in, got, want)
		}
	}
}
