package mediamesh

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// TestTraceEndToEnd follows one sign-up from the gateway through the auth service and its outbox,
// over Kafka, to a consumer, in the exported spans: all of one trace, each the child of the one
// before.
func TestTraceEndToEnd(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	cfg := Default()
	cfg.Target = []string{ServiceAuth, GatewayDiscovery}
	cfg.Gateway.DiscoveryAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Kafka.Brokers = strings.Split(brokers, ",")
	cfg.Services.Auth.Addr = freeAddr(t)
	cfg.Services.Discovery.URL = "http://127.0.0.1:1" // fronted, not called here
	cfg.Services.Search.URL = "http://127.0.0.1:1"
	urls, _, _ := start(t, cfg)

	email := fmt.Sprintf("trace-%d@example.com", time.Now().UnixNano())
	if code, body := call(t, "POST", urls["discovery gateway"]+"/api/v1/auth/signup", "", fmt.Sprintf(`{"email":%q,"display_name":"T","password":"a long enough password"}`, email)); code != 201 {
		t.Fatalf("signup: %d %s", code, body)
	}
	awaitRegistered(t, cfg.Kafka.Brokers, email)

	var gatewaySpan, serviceSpan, consumerSpan *tracetest.SpanStub
	deadline := time.Now().Add(10 * time.Second)
	for consumerSpan == nil && time.Now().Before(deadline) {
		spans := exp.GetSpans()
		for i := range spans {
			s := &spans[i]
			switch {
			case s.Name == "discovery-gateway registerUser":
				gatewaySpan = s
			case s.Name == "service registerUser":
				serviceSpan = s
			case s.Name == "consume "+eventbus.TopicAuth && serviceSpan != nil && s.Parent.SpanID() == serviceSpan.SpanContext.SpanID():
				consumerSpan = s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if gatewaySpan == nil || serviceSpan == nil || consumerSpan == nil {
		t.Fatalf("spans: gateway %v, service %v, consumer %v", gatewaySpan != nil, serviceSpan != nil, consumerSpan != nil)
	}
	trace := gatewaySpan.SpanContext.TraceID()
	if serviceSpan.SpanContext.TraceID() != trace || consumerSpan.SpanContext.TraceID() != trace {
		t.Fatal("the spans are not one trace")
	}
	if serviceSpan.Parent.SpanID() != gatewaySpan.SpanContext.SpanID() {
		t.Fatal("the service span is not the gateway span's child")
	}
	_ = tp.Shutdown(context.Background())
}
