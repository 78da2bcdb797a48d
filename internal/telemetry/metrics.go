package telemetry

import (
	"net/http"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a Prometheus registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus text format, for /metrics.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// RelayStats is what the metrics read from an outbox relay.
type RelayStats interface {
	Backlog() int64
	Sent() int64
}

// RegisterRelay exports the backlog and the published count of the outbox relay of service.
func RegisterRelay(reg prometheus.Registerer, service string, r RelayStats) error {
	labels := prometheus.Labels{"service": service}
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mediamesh_outbox_backlog", Help: "Outbox rows not yet published.", ConstLabels: labels,
	}, func() float64 { return float64(r.Backlog()) })); err != nil {
		return err
	}
	return reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "mediamesh_outbox_published_total", Help: "Outbox rows published by the relay.", ConstLabels: labels,
	}, func() float64 { return float64(r.Sent()) }))
}

// lagCollector exports a consumer group's lag per topic and partition.
type lagCollector struct {
	group string
	lag   func() map[string]int64 // "topic/partition" -> messages behind
	desc  *prometheus.Desc
}

// RegisterConsumerLag exports the lag of consumer group, read from lag ("topic/partition" keys),
// as mediamesh_consumer_lag{group,topic,partition}.
func RegisterConsumerLag(reg prometheus.Registerer, group string, lag func() map[string]int64) error {
	// group is a constant label, so every consumer group of a process has a collector of its own.
	return reg.Register(&lagCollector{group: group, lag: lag, desc: prometheus.NewDesc(
		"mediamesh_consumer_lag", "Messages a consumer group has not processed yet.", []string{"topic", "partition"}, prometheus.Labels{"group": group})})
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	lags := c.lag()
	keys := make([]string, 0, len(lags))
	for k := range lags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		topic, partition, ok := strings.Cut(k, "/")
		if !ok {
			topic, partition = k, ""
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(lags[k]), topic, partition)
	}
}
