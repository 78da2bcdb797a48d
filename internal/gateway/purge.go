package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/internal/cache"
)

// Purger tells a CDN in front of the gateways which cached answers to drop: every invalidated cache
// namespace is a surrogate key (the gateways tag each cached answer with the namespaces it depends
// on, see CachedRead.Tags), and the keys invalidated within Linger go out together as one POST of
// {"surrogate_keys": [...]} to URL, the purge hook (a small function at the CDN's API, or the
// CDN's own purge endpoint when it takes this body). A failed call is tried again twice.
type Purger struct {
	URL    string
	Client *http.Client
	Linger time.Duration
	Log    *slog.Logger

	mu      sync.Mutex
	pending map[string]bool
	timer   *time.Timer
}

// NewPurger returns a purger posting to url.
func NewPurger(url string, log *slog.Logger) *Purger {
	return &Purger{URL: url, Client: &http.Client{Timeout: 5 * time.Second}, Linger: 50 * time.Millisecond, Log: log, pending: map[string]bool{}}
}

// Invalidated queues the surrogate key ns (the signature of cache.Watcher's callbacks).
func (p *Purger) Invalidated(ns string) {
	if ns == cache.Takedowns {
		return // last good answers live only in the gateways' cache
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending[ns] = true
	if p.timer == nil {
		p.timer = time.AfterFunc(p.Linger, p.flush)
	}
}

// flush posts the queued keys.
func (p *Purger) flush() {
	p.mu.Lock()
	keys := make([]string, 0, len(p.pending))
	for k := range p.pending {
		keys = append(keys, k)
	}
	p.pending, p.timer = map[string]bool{}, nil
	p.mu.Unlock()
	slices.Sort(keys)
	body, _ := json.Marshal(map[string][]string{"surrogate_keys": keys})
	var err error
	for attempt, wait := range []time.Duration{0, 200 * time.Millisecond, time.Second} {
		time.Sleep(wait)
		if err = p.post(body); err == nil {
			cdnPurges.WithLabelValues("ok").Inc()
			return
		}
		p.Log.Debug("cdn purge failed", "attempt", attempt+1, "error", err)
	}
	cdnPurges.WithLabelValues("failed").Inc()
	p.Log.Warn("cdn purge failed: a CDN may serve these keys until its s-maxage ends", "keys", keys, "error", err)
}

func (p *Purger) post(body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("purge hook answered %s", resp.Status)
	}
	return nil
}

// cdnPurges counts the calls of the purge hook by result (ok, failed after three attempts).
var cdnPurges = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "mediamesh_cdn_purges_total",
	Help: "Calls of the CDN purge hook (gateway.cdn_purge_url) by result (ok, failed).",
}, []string{"result"})

// RegisterPurgeMetrics registers the purge hook's metric with reg (once per registry).
func RegisterPurgeMetrics(reg prometheus.Registerer) error {
	if err := reg.Register(cdnPurges); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			return err
		}
	}
	return nil
}
