package httpclient

import (
	"errors"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// breakerMetrics exports the breakers of every Transport made with one Registerer:
//
//	mediamesh_breaker_state{downstream}                gauge: 0 closed, 1 half-open, 2 open
//	mediamesh_breaker_transitions_total{downstream,to} counter
//
// When several transports share a downstream name (both gateways front auth), the gauge shows the
// most open of their breakers and the counter adds up their transitions.
type breakerMetrics struct {
	stateDesc   *prometheus.Desc
	transitions *prometheus.CounterVec

	mu     sync.Mutex
	states map[string][]func() BreakerState
}

// registerBreakerMetrics registers the breaker metrics with reg, or returns those already registered.
func registerBreakerMetrics(reg prometheus.Registerer) (*breakerMetrics, error) {
	m := &breakerMetrics{
		stateDesc: prometheus.NewDesc("mediamesh_breaker_state",
			"Circuit breaker state per downstream service: 0 closed, 1 half-open, 2 open.", []string{"downstream"}, nil),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mediamesh_breaker_transitions_total",
			Help: "Circuit breaker transitions per downstream service, by the state entered.",
		}, []string{"downstream", "to"}),
		states: map[string][]func() BreakerState{},
	}
	if err := reg.Register(m); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*breakerMetrics); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return m, nil
}

// add exports the state of one more breaker of downstream.
func (m *breakerMetrics) add(downstream string, state func() BreakerState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[downstream] = append(m.states[downstream], state)
	for _, to := range []BreakerState{BreakerClosed, BreakerHalfOpen, BreakerOpen} {
		m.transitions.WithLabelValues(downstream, to.String()) // every series from zero
	}
}

// Describe implements prometheus.Collector.
func (m *breakerMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.stateDesc
	m.transitions.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *breakerMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	names := make([]string, 0, len(m.states))
	for name := range m.states {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		worst := BreakerClosed
		for _, state := range m.states[name] {
			worst = max(worst, state())
		}
		ch <- prometheus.MustNewConstMetric(m.stateDesc, prometheus.GaugeValue, float64(worst), name)
	}
	m.mu.Unlock()
	m.transitions.Collect(ch)
}
