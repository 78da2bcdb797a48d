package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// TestReplay rebuilds the discovery and search read models with `mediamesh replay` after the
// platform stopped, from the producers' outboxes (embedded) and from Kafka: the restarted platform
// shows the same published content, and nothing of what was unpublished.
func TestReplay(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testReplay(t, nil) })
	t.Run("kafka", func(t *testing.T) {
		brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
		testReplay(t, strings.Split(brokers, ","))
	})
}

func testReplay(t *testing.T, brokers []string) {
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Kafka.Brokers = brokers
	cfg.Gateway.RateLimits = false
	cfg.Auth.AdminPassword = "replay admin password"
	urls, stop, done := start(t, cfg)
	a := &api{t: t, cms: urls["cms gateway"], disc: urls["discovery gateway"]}
	a.token = login(t, a.cms, "admin@mediamesh.local", "replay admin password")
	unique := time.Now().UnixNano()
	var kept, dropped struct{ ID string }
	a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"podcast","title":"Replayed harbour stories","slug":"kept-%d","language":"en"}`, unique), 201, &kept)
	a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"podcast","title":"Replayed withdrawn stories","slug":"dropped-%d","language":"en"}`, unique), 201, &dropped)
	for _, id := range []string{kept.ID, dropped.ID} {
		a.do("POST", "/api/v1/cms/programs/"+id+"/publish", "", 200, nil)
	}
	a.do("POST", "/api/v1/cms/programs/"+dropped.ID+"/unpublish", "", 200, nil)
	a.await("/api/v1/discovery/programs/"+kept.ID, 200, "")
	a.await("/api/v1/discovery/programs/"+dropped.ID, 404, "")
	a.await("/api/v1/discovery/search?q=replayed", 200, kept.ID)
	_, before := a.public("/api/v1/discovery/programs/" + kept.ID)
	stop()
	<-done

	var out bytes.Buffer
	if err := app.Replay(context.Background(), cfg, quiet, &out); err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	for _, want := range []string{"discovery: applied", "search: applied", "content.events", "metadata.events"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("replay output lacks %q:\n%s", want, out.String())
		}
	}

	urls, _, _ = start(t, cfg)
	a.disc = urls["discovery gateway"]
	if code, after := a.public("/api/v1/discovery/programs/" + kept.ID); code != 200 || after != before {
		t.Fatalf("after the replay: %d %s\nbefore: %s", code, after, before)
	}
	if code, _ := a.public("/api/v1/discovery/programs/" + dropped.ID); code != 404 {
		t.Fatalf("an unpublished program came back with the replay: %d", code)
	}
	if code, body := a.public("/api/v1/discovery/search?q=replayed"); code != 200 || !strings.Contains(body, kept.ID) || strings.Contains(body, dropped.ID) {
		t.Fatalf("search after the replay: %d %s", code, body)
	}
}
