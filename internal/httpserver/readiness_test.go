package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestReadinessDegraded: a dependency that is down but not critical (a service a gateway fronts)
// leaves /readyz at 200, reported as degraded; a critical one (the process's own database) makes it
// 503. ?verbose lists each dependency's state, and mediamesh_dependency_up exports them.
func TestReadinessDegraded(t *testing.T) {
	srv := &Server{Name: "gw", Log: quiet, Handler: http.NotFoundHandler()}
	searchUp, dbUp := false, true
	srv.AddDependency("search", func(context.Context) error {
		if searchUp {
			return nil
		}
		return errors.New("connection refused")
	})
	srv.AddReadinessCheck("db", func(context.Context) error {
		if dbUp {
			return nil
		}
		return errors.New("db down")
	})
	h := srv.root()
	get := func(path string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v: %s", path, err, rec.Body)
		}
		return rec.Code, body
	}
	if _, ok := get("/readyz"); ok["instance"] != nil {
		t.Fatalf("instance without Instance: %v", ok)
	}
	srv.Instance = "run-42"
	code, body := get("/readyz")
	if body["instance"] != "run-42" {
		t.Fatalf("instance: %v, want run-42", body["instance"])
	}
	if code != 200 || body["status"] != "degraded" || !strings.Contains(body["checks"].(map[string]any)["search"].(string), "refused") {
		t.Fatalf("search down: %d %v, want 200 degraded", code, body)
	}
	if _, ok := body["dependencies"]; ok {
		t.Fatalf("dependencies without ?verbose: %v", body)
	}
	code, body = get("/readyz?verbose")
	deps, _ := body["dependencies"].([]any)
	if code != 200 || len(deps) != 2 {
		t.Fatalf("verbose: %d %v", code, body)
	}
	if d := deps[1].(map[string]any); d["name"] != "search" || d["up"] != false || d["critical"] != false {
		t.Fatalf("verbose search: %v", d)
	}
	if d := deps[0].(map[string]any); d["name"] != "db" || d["up"] != true || d["critical"] != true {
		t.Fatalf("verbose db: %v", d)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(DependencyCollector(srv))
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gather: %v %v", mfs, err)
	}
	got := map[string]float64{}
	for _, m := range mfs[0].GetMetric() {
		labels := ""
		for _, l := range m.GetLabel() {
			labels += l.GetName() + "=" + l.GetValue() + " "
		}
		got[labels] = m.GetGauge().GetValue()
	}
	if got["critical=false dependency=search "] != 0 || got["critical=true dependency=db "] != 1 || len(got) != 2 {
		t.Fatalf("mediamesh_dependency_up: %v", got)
	}

	dbUp = false
	if code, body := get("/readyz"); code != 503 || body["status"] != "not ready" {
		t.Fatalf("db down: %d %v, want 503", code, body)
	}
	searchUp, dbUp = true, true
	if code, body := get("/readyz"); code != 200 || body["status"] != "ready" {
		t.Fatalf("all up: %d %v", code, body)
	}
}

// TestEvery503HasRetryAfter: a 503 without Retry-After gets one; one with its own keeps it.
func TestEvery503HasRetryAfter(t *testing.T) {
	srv := &Server{Name: "s", Log: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("retry"); v != "" {
			w.Header().Set("Retry-After", v)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})}
	h := srv.root()
	for path, want := range map[string]string{"/x": DefaultRetryAfter, "/x?retry=9": "9"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 503 || rec.Header().Get("Retry-After") != want {
			t.Errorf("%s: %d Retry-After %q, want %q", path, rec.Code, rec.Header().Get("Retry-After"), want)
		}
	}
}

// TestReadinessHungDependency: a check that hangs, even one that ignores its context (a paused
// Kafka or PostgreSQL), costs /readyz at most readinessTimeout: the hung dependency is reported
// down, and the answer is 200 when it is not critical, 503 when it is.
func TestReadinessHungDependency(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	for _, critical := range []bool{false, true} {
		srv := &Server{Name: "svc", Log: quiet, Handler: http.NotFoundHandler()}
		srv.AddReadinessCheck("db", func(context.Context) error { return nil })
		hung := func(context.Context) error { <-hang; return nil }
		want := http.StatusOK
		if critical {
			srv.AddReadinessCheck("hung", hung)
			want = http.StatusServiceUnavailable
		} else {
			srv.AddDependency("hung", hung)
		}
		start := time.Now()
		rec := httptest.NewRecorder()
		srv.root().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		took := time.Since(start)
		if rec.Code != want || !strings.Contains(rec.Body.String(), "no answer within") {
			t.Errorf("critical %v: %d %s, want %d naming the hung check", critical, rec.Code, rec.Body, want)
		}
		if took > readinessTimeout+300*time.Millisecond {
			t.Errorf("critical %v: /readyz took %s with a hung check, want about %s", critical, took, readinessTimeout)
		}
	}
}
