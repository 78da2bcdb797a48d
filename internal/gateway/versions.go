package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// deprecate sets the headers of an operation the contract marks deprecated (policy.Deprecation):
// Deprecation (RFC 9745, a structured date: @ and Unix seconds), Sunset (RFC 8594, an HTTP date)
// and a Link to the migration guide (rel="deprecation", and rel="sunset" as RFC 8594 suggests).
// They go on every answer of the operation, errors included, so a client sees them whatever it
// sent.
func deprecate(w http.ResponseWriter, op *policy.Operation) {
	d := op.Deprecation
	if d == nil {
		return
	}
	h := w.Header()
	h.Set("Deprecation", "@"+strconv.FormatInt(d.At.Unix(), 10))
	h.Set("Sunset", d.Sunset.UTC().Format(http.TimeFormat))
	h.Add("Link", "<"+d.Link+`>; rel="deprecation"; type="text/html"`)
	h.Add("Link", "<"+d.Link+`>; rel="sunset"; type="text/html"`)
}

// maxVersionClients bounds the client label of mediamesh_api_version_requests_total: the first
// distinct clients a process sees keep their own label, later ones count as "other".
const maxVersionClients = 200

// versionRequests counts the gateway's API requests by major version, by client (an API key,
// key:<id>; a signed-in user, user:<id>; or anonymous) and by whether the operation is deprecated,
// so that the callers still using a version that is going away can be named and told.
var versionRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "mediamesh_api_version_requests_total",
	Help: "Gateway API requests by major version, client (key:<id>, user:<id>, anonymous; other past " + strconv.Itoa(maxVersionClients) + " distinct clients) and deprecated operation.",
}, []string{"version", "client", "deprecated"})

// versionClients holds the client labels given out so far (at most maxVersionClients).
var versionClients = struct {
	sync.Mutex
	seen map[string]bool
}{seen: map[string]bool{}}

// RegisterVersionMetrics registers the per-version usage metric with reg (once per registry).
func RegisterVersionMetrics(reg prometheus.Registerer) error {
	if err := reg.Register(versionRequests); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			return err
		}
	}
	return nil
}

// countVersion counts a request r of op by the caller p (nil: anonymous). A public operation does
// not look at API keys, so for a deprecated one the key a caller sends is exchanged here (through
// the verifier's short cache, authn.KeyRecheck) only to name the caller: integrations call with
// keys, and they are who must hear of the sunset. A key that does not verify counts as anonymous.
func (g *Gateway) countVersion(r *http.Request, op *policy.Operation, p *authn.Principal) {
	if op.Version == "" {
		return
	}
	if p == nil && op.Deprecation != nil && !op.Secured {
		if kv, ok := g.cfg.Verifier.(authn.KeyVerifier); ok {
			if key := authn.APIKey(r); key != "" {
				if kp, err := kv.VerifyKey(r.Context(), key, clientAddr(r)); err == nil {
					p = kp
				}
			}
		}
	}
	versionRequests.WithLabelValues(op.Version, versionClient(p), strconv.FormatBool(op.Deprecation != nil)).Inc()
}

// versionClient is the client label of p, bounded by maxVersionClients.
func versionClient(p *authn.Principal) string {
	var c string
	switch {
	case p == nil:
		return "anonymous"
	case p.KeyID != "":
		c = "key:" + p.KeyID
	default:
		c = "user:" + p.Subject
	}
	versionClients.Lock()
	defer versionClients.Unlock()
	if versionClients.seen[c] {
		return c
	}
	if len(versionClients.seen) >= maxVersionClients {
		return "other"
	}
	versionClients.seen[c] = true
	return c
}

// SpecVersion is one major version's view of a gateway's contract (its name, v1, and the document).
type SpecVersion struct {
	Name string
	Spec []byte
}

func serveSpec(spec []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write(spec)
	}
}
