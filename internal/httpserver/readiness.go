package httpserver

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ReadinessCheck reports whether a dependency is usable; nil means ready.
type ReadinessCheck func(ctx context.Context) error

// readinessTimeout bounds all the checks of one /readyz (they run at once): a check that has not
// answered by then counts as down, so a hung dependency (a paused Kafka or PostgreSQL) never makes
// /readyz itself hang past a load balancer's probe timeout (1 s in Kubernetes by default), which
// would take every process out of rotation for the outage of a dependency that only degrades
// them. It is half a second so a gateway's check of a service's /readyz, itself bounded so,
// still answers in time.
const readinessTimeout = 500 * time.Millisecond

// check is a registered dependency: critical ones decide readiness, the others are reported.
type check struct {
	fn       ReadinessCheck
	critical bool
}

// AddReadinessCheck registers a critical dependency: while its check fails the server cannot serve
// (its own database, say) and /readyz answers 503, so a load balancer takes the process out.
func (s *Server) AddReadinessCheck(name string, c ReadinessCheck) { s.addCheck(name, c, true) }

// AddDependency registers a dependency whose outage degrades what the server does without stopping
// it (a service a gateway fronts, Redis, Kafka): /readyz reports it and stays 200, since the process
// still serves what it can (cached reads, the other services, 503s with Retry-After at once).
func (s *Server) AddDependency(name string, c ReadinessCheck) { s.addCheck(name, c, false) }

func (s *Server) addCheck(name string, c ReadinessCheck, critical bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.checks == nil {
		s.checks = map[string]check{}
	}
	s.checks[name] = check{fn: c, critical: critical}
}

// DependencyState is the outcome of one dependency's check.
type DependencyState struct {
	Name     string `json:"name"`
	Up       bool   `json:"up"`
	Critical bool   `json:"critical"`
	Error    string `json:"error,omitempty"`
	TookMS   int64  `json:"took_ms"`
}

// Dependencies runs every registered check at once, within a bounded time, and returns their states
// sorted by name.
func (s *Server) Dependencies(ctx context.Context) []DependencyState {
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := make(map[string]check, len(s.checks))
	for n, c := range s.checks {
		checks[n] = c
	}
	s.mu.Unlock()
	sort.Strings(names)
	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	type answer struct {
		i     int
		state DependencyState
	}
	answers := make(chan answer, len(names)) // buffered: a check answering late never blocks
	for i, n := range names {
		go func() {
			start := time.Now()
			err := checks[n].fn(ctx)
			st := DependencyState{Name: n, Up: err == nil, Critical: checks[n].critical, TookMS: time.Since(start).Milliseconds()}
			if err != nil {
				st.Error = err.Error()
			}
			answers <- answer{i, st}
		}()
	}
	out := make([]DependencyState, len(names))
	got := make([]bool, len(names))
	for range names {
		select {
		case a := <-answers:
			out[a.i], got[a.i] = a.state, true
			continue
		case <-ctx.Done():
		}
		break
	}
	for i, n := range names {
		if !got[i] {
			out[i] = DependencyState{Name: n, Critical: checks[n].critical, Error: "no answer within " + readinessTimeout.String(), TookMS: readinessTimeout.Milliseconds()}
		}
	}
	return out
}

// ready answers /readyz: 200 while every critical dependency is up (status "ready", or "degraded"
// when another one is down), else 503 ("not ready"). The body names each check ("ok" or its
// error) and the degraded ones; /readyz?verbose adds each dependency's state, criticality and check
// time.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	deps := s.Dependencies(r.Context())
	status, state := http.StatusOK, "ready"
	results := map[string]string{}
	degraded := []string{}
	for _, d := range deps {
		results[d.Name] = "ok"
		if d.Up {
			continue
		}
		results[d.Name] = d.Error
		if d.Critical {
			status, state = http.StatusServiceUnavailable, "not ready"
		} else {
			degraded = append(degraded, d.Name)
			if status == http.StatusOK {
				state = "degraded"
			}
		}
	}
	body := map[string]any{"status": state, "server": s.Name, "checks": results, "degraded": degraded}
	if s.Instance != "" {
		body["instance"] = s.Instance
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		body["dependencies"] = deps
	}
	writeJSON(w, status, body)
}

// DependencyCollector exports the checks of srv at each scrape as
// mediamesh_dependency_up{dependency,critical}: 1 up, 0 down. Register it for the server that
// checks everything a process depends on (the admin server).
func DependencyCollector(srv *Server) prometheus.Collector { return dependencyCollector{srv} }

var dependencyUpDesc = prometheus.NewDesc("mediamesh_dependency_up",
	"Whether a dependency of the process answers its readiness check: 1 up, 0 down; critical=\"true\" ones make /readyz answer 503.",
	[]string{"dependency", "critical"}, nil)

type dependencyCollector struct{ srv *Server }

func (c dependencyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- dependencyUpDesc }

func (c dependencyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range c.srv.Dependencies(context.Background()) {
		up, critical := 0.0, "false"
		if d.Up {
			up = 1
		}
		if d.Critical {
			critical = "true"
		}
		ch <- prometheus.MustNewConstMetric(dependencyUpDesc, prometheus.GaugeValue, up, d.Name, critical)
	}
}
