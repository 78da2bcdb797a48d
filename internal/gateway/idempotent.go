package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/idempotency"
	"github.com/mediamesh/mediamesh/internal/policy"
)

const (
	idempotencyTTL     = 24 * time.Hour
	maxStoredResponse  = 1 << 20
	replayedHeader     = "Idempotent-Replayed"
	idempotencyKeyName = "Idempotency-Key"
)

// storedHeaders are the response headers a replay repeats.
var storedHeaders = []string{"Content-Type", "Location", "ETag", "Cache-Control"}

// idempotent forwards a create that carries an Idempotency-Key at most once per key: a retry with
// the same request gets the stored response, a reuse of the key for another request gets 422, and
// a retry while the first is still running gets 409. Server errors are not stored, so the client
// may retry them. Keys are scoped to the operation and the caller.
func (g *Gateway) idempotent(w http.ResponseWriter, r *http.Request, op *policy.Operation, p *authn.Principal, key string, next http.Handler) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		apierror.Write(w, r, apierror.BadRequest("could not read the request body"))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.New()
	sum.Write([]byte(r.Method + " " + r.URL.RequestURI() + "\n"))
	sum.Write(body)
	hash := hex.EncodeToString(sum.Sum(nil))

	caller := "ip:" + clientAddr(r)
	if p != nil {
		caller = "user:" + p.Subject
	}
	storeKey := op.ID + ":" + caller + ":" + key
	ctx := r.Context()
	rec, reserved, err := g.cfg.Idempotency.Begin(ctx, storeKey, hash, idempotencyTTL)
	if err != nil {
		apierror.Write(w, r, apierror.Unavailable("idempotency records are unavailable; retry later", 5*time.Second))
		return
	}
	if !reserved {
		switch {
		case rec.Hash != hash:
			apierror.Write(w, r, apierror.Validation("the Idempotency-Key was used with a different request",
				apierror.FieldError{Field: "header." + idempotencyKeyName, Message: "was used with a different request", Code: "reused"}))
		case !rec.Done:
			apierror.Write(w, r, apierror.Conflict("a request with this Idempotency-Key is still being processed; retry later"))
		default:
			for _, h := range storedHeaders {
				for _, v := range rec.Header.Values(h) {
					w.Header().Add(h, v)
				}
			}
			w.Header().Set(replayedHeader, "true")
			w.WriteHeader(rec.Status)
			_, _ = w.Write(rec.Body)
		}
		return
	}
	cw := &httpserver.Recorder{ResponseWriter: w, Keep: maxStoredResponse}
	defer func() {
		// Record the outcome even if the client went away: the create happened.
		bg := context.WithoutCancel(ctx)
		if v := recover(); v != nil {
			_ = g.cfg.Idempotency.Abandon(bg, storeKey)
			panic(v)
		}
		if cw.Status >= 500 || cw.Status == 0 || cw.Overflow {
			_ = g.cfg.Idempotency.Abandon(bg, storeKey)
			return
		}
		h := http.Header{}
		for _, name := range storedHeaders {
			for _, v := range cw.Header().Values(name) {
				h.Add(name, v)
			}
		}
		if err := g.cfg.Idempotency.Complete(bg, storeKey, idempotency.Record{Hash: hash, Status: cw.Status, Header: h, Body: cw.Body.Bytes()}, idempotencyTTL); err != nil {
			g.cfg.Log.Warn("could not store an idempotent response", "operation", op.ID, "error", err)
		}
	}()
	next.ServeHTTP(cw, r)
}
