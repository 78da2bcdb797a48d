package admission

import (
	"context"
	"testing"
)

// TestRelease: the release a context carries runs once however often Release is called, and a
// context without one is left alone.
func TestRelease(t *testing.T) {
	n := 0
	ctx := WithRelease(context.Background(), func() { n++ })
	Release(ctx)
	Release(ctx)
	if n != 1 {
		t.Fatalf("released %d times, want 1", n)
	}
	Release(context.Background())
}
