package eventbus

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestOutageLog: a 3-minute outage tried every 100 ms logs 4 lines: down, still down at 1 and 2
// minutes, recovered with its length.
func TestOutageLog(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	o := &OutageLog{Log: slog.New(slog.NewTextHandler(&buf, nil)), What: "kafka publish", now: func() time.Time { return now }}
	o.Succeeded()
	for i := 0; i < 1800; i++ {
		o.Failed(errors.New("connection refused"))
		now = now.Add(100 * time.Millisecond)
	}
	if !o.Down() {
		t.Fatal("not down")
	}
	o.Succeeded()
	o.Succeeded()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "kafka publish failing") || !strings.Contains(lines[1], "down_for=1m0s") ||
		!strings.Contains(lines[2], "still failing") || !strings.Contains(lines[3], "recovered") || !strings.Contains(lines[3], "outage=3m0s") {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	if o.Down() {
		t.Fatal("still down after a success")
	}
}
