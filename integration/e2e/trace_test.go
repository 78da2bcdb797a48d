package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// TestTraceEndToEnd follows one sign-up from the gateway through the auth service and its outbox,
// over Kafka, to a consumer, in the exported spans: all of one trace, each the child of the one
// before.
func TestTraceEndToEnd(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	exp, tp := inMemoryTracing(t)

	cfg := app.Default()
	cfg.Target = []string{app.ServiceAuth, app.GatewayDiscovery}
	cfg.Gateway.DiscoveryAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Kafka.Brokers = strings.Split(brokers, ",")
	cfg.Services.Auth.Addr = testenv.FreeAddr(t)
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

// TestTracePublishToSearchIndex follows one CMS publish in the exported spans: from the CMS
// gateway, through the cms service and its outbox, over Kafka, to the search service's consumer
// and its index update — one trace, each span the child of the one before.
func TestTracePublishToSearchIndex(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	exp, tp := inMemoryTracing(t)

	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Kafka.Brokers = strings.Split(brokers, ",")
	cfg.Auth.AdminPassword = "trace admin password"
	urls, _, _ := start(t, cfg)
	a := &api{t: t, cms: urls["cms gateway"], disc: urls["discovery gateway"]}
	a.token = login(t, a.cms, "admin@mediamesh.local", "trace admin password")
	var prog struct{ ID string }
	a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"show","title":"Traced morning show","slug":"traced-%d","language":"en"}`, time.Now().UnixNano()), 201, &prog)
	a.do("POST", "/api/v1/cms/programs/"+prog.ID+"/publish", "", 200, nil)
	a.await("/api/v1/discovery/search?q=traced", 200, prog.ID)

	var gatewaySpan, serviceSpan, consumerSpan, indexSpan *tracetest.SpanStub
	deadline := time.Now().Add(10 * time.Second)
	for indexSpan == nil && time.Now().Before(deadline) {
		spans := exp.GetSpans()
		for i := range spans {
			s := &spans[i]
			switch {
			case s.Name == "cms-gateway publishProgram":
				gatewaySpan = s
			case s.Name == "service publishProgram":
				serviceSpan = s
			case s.Name == "consume "+eventbus.TopicContent && serviceSpan != nil && s.Parent.SpanID() == serviceSpan.SpanContext.SpanID() && hasAttr(s, "messaging.consumer.group.name", "search"):
				consumerSpan = s
			case s.Name == "search index" && consumerSpan != nil && s.Parent.SpanID() == consumerSpan.SpanContext.SpanID():
				indexSpan = s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if gatewaySpan == nil || serviceSpan == nil || consumerSpan == nil || indexSpan == nil {
		t.Fatalf("spans: gateway %v, service %v, search consumer %v, index %v", gatewaySpan != nil, serviceSpan != nil, consumerSpan != nil, indexSpan != nil)
	}
	trace := gatewaySpan.SpanContext.TraceID()
	for _, s := range []*tracetest.SpanStub{serviceSpan, consumerSpan, indexSpan} {
		if s.SpanContext.TraceID() != trace {
			t.Fatalf("span %q is not in the publish's trace", s.Name)
		}
	}
	if serviceSpan.Parent.SpanID() != gatewaySpan.SpanContext.SpanID() {
		t.Fatal("the service span is not the gateway span's child")
	}
	// The statements of the publish are spans of the service span, and so are the index's.
	var serviceSQL, indexSQL bool
	for _, s := range exp.GetSpans() {
		if strings.HasPrefix(s.Name, "sql.") && hasAttr(&s, "db.system", "sqlite") {
			serviceSQL = serviceSQL || s.Parent.SpanID() == serviceSpan.SpanContext.SpanID()
			indexSQL = indexSQL || s.Parent.SpanID() == indexSpan.SpanContext.SpanID()
		}
	}
	if !serviceSQL || !indexSQL {
		t.Fatalf("database spans under the service span: %v, under the search index span: %v", serviceSQL, indexSQL)
	}
	_ = tp.Shutdown(context.Background())
}

func hasAttr(s *tracetest.SpanStub, key, value string) bool {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key && kv.Value.AsString() == value {
			return true
		}
	}
	return false
}

// inMemoryTracing makes the global tracer provider record every span in memory until the test ends.
func inMemoryTracing(t *testing.T) (*tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	return exp, tp
}
