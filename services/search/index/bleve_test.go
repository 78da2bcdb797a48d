package index

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBleveOnDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "index")
	doc := Doc{ID: "d1", Type: TypeProgram, Title: "برنامج الصباح", Language: "ar", PublishedAt: time.Now(), Version: 2}

	ix, err := NewBleve(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(t.Context(), doc); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	ix, err = NewBleve(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	stale := doc
	stale.Version, stale.Title = 1, "Stale"
	if err := ix.Upsert(t.Context(), stale); err != nil {
		t.Fatal(err)
	}
	r, err := ix.Search(t.Context(), Query{Text: "صباح"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hits) != 1 || r.Hits[0].Title != doc.Title {
		t.Errorf("after reopening: %+v, want the stored document", r.Hits)
	}

	// An index built with another mapping is refused.
	if err := ix.idx.SetInternal(internalMappingKey, []byte("other")); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBleve(dir); err == nil || !strings.Contains(err.Error(), "rebuild") {
		t.Errorf("opening an index with another mapping: %v, want an error asking for a rebuild", err)
	}

	// An existing empty directory gets a new index; a directory with other files is refused.
	empty := t.TempDir()
	ix, err = NewBleve(empty)
	if err != nil {
		t.Fatalf("NewBleve(empty directory): %v", err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ix, err := NewBleve(other); err == nil {
		_ = ix.Close()
		t.Error("NewBleve opened a directory that holds something else")
	}
}
