package telemetry

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

type relayStats struct{ backlog, sent int64 }

func (r relayStats) Backlog() int64 { return r.backlog }
func (r relayStats) Sent() int64    { return r.sent }

func TestMetrics(t *testing.T) {
	reg := NewRegistry()
	if err := RegisterRelay(reg, "auth", relayStats{backlog: 7, sent: 42}); err != nil {
		t.Fatal(err)
	}
	if err := RegisterConsumerLag(reg, "search", func() map[string]int64 { return map[string]int64{"content.events/0": 3, "content.events/1": 0} }); err != nil {
		t.Fatal(err)
	}
	// Several consumer groups in one process each export their lag.
	if err := RegisterConsumerLag(reg, "discovery", func() map[string]int64 { return map[string]int64{"content.events/2": 5} }); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`mediamesh_outbox_backlog{service="auth"} 7`,
		`mediamesh_outbox_published_total{service="auth"} 42`,
		`mediamesh_consumer_lag{group="search",partition="0",topic="content.events"} 3`,
		`mediamesh_consumer_lag{group="discovery",partition="2",topic="content.events"} 5`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if err := RegisterRelay(reg, "auth", relayStats{}); err == nil {
		t.Fatal("registering one relay twice must fail")
	}
}
