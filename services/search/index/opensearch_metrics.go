package index

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// engineMetrics exports how the search engine answers, per engine and operation:
//
//	mediamesh_search_engine_duration_seconds{engine,operation}  histogram of each call
//	mediamesh_search_engine_errors_total{engine,operation,kind}  calls that failed: kind unavailable
//	                                                             (down, timed out, 5xx, breaker open)
//	                                                             or error (anything else)
//
// The operations are search, suggest, write (upserts), delete and delete_program. A query the
// engine refuses as invalid, or a call its caller gave up on, is not counted as an error. Only the
// OpenSearch engine exports them (OpenSearchConfig.Registerer): the other two run in the search
// service's process, whose HTTP metrics already show their latency.
type engineMetrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

var engineOperations = []string{"search", "suggest", "write", "delete", "delete_program"}

// registerEngineMetrics registers the metrics with reg, or returns those already registered.
func registerEngineMetrics(reg prometheus.Registerer, engine string) (*engineMetrics, error) {
	m := &engineMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mediamesh_search_engine_duration_seconds",
			Help:    "Time the search engine took per call, by engine and operation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1 ms to 8 s
		}, []string{"engine", "operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mediamesh_search_engine_errors_total",
			Help: "Search engine calls that failed, by engine, operation and kind (unavailable: down, timed out, 5xx or breaker open; error: anything else).",
		}, []string{"engine", "operation", "kind"}),
	}
	var err error
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	for _, op := range engineOperations { // every series from zero
		m.duration.WithLabelValues(engine, op)
		for _, kind := range []string{"unavailable", "error"} {
			m.errors.WithLabelValues(engine, op, kind)
		}
	}
	return m, nil
}

// register registers c with reg, or returns the collector already registered under its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// observe records a call of operation that started at start and ended with err.
func (m *engineMetrics) observe(engine, operation string, start time.Time, err error) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(engine, operation).Observe(time.Since(start).Seconds())
	switch {
	case err == nil, errors.Is(err, ErrInvalidQuery), errors.Is(err, ErrBadCursor), errors.Is(err, ErrInvalidDocument),
		errors.Is(err, context.Canceled):
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		m.errors.WithLabelValues(engine, operation, "unavailable").Inc()
	default:
		m.errors.WithLabelValues(engine, operation, "error").Inc()
	}
}
