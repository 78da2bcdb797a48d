package objectstore

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/internal/apierror"
)

// Handler serves the URLs that PresignPut and PresignGet return; mount it with
// http.StripPrefix(<path of BaseURL>, l.Handler()).
//
//   - GET and HEAD with a valid, unexpired GET signature (or none, for a key LocalConfig.PublicRead
//     accepts) stream the object with its Content-Type, Content-Length and ETag; Range and
//     conditional requests work (http.ServeContent). Responses carry "X-Content-Type-Options:
//     nosniff" and "Content-Security-Policy: sandbox", since uploads are served from our origin.
//   - PUT with a valid, unexpired PUT signature and the signed Content-Type stores the body and
//     answers 200 with the ETag.
//
// Errors are problem+json: 403 for a missing, malformed, tampered or expired signature and for a
// PUT whose Content-Type differs from the signed one (it is part of the signature), 404 for an
// absent object, 413 for a body over MaxUploadBytes, 405 for other methods.
func (l *Local) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			l.serveGet(w, r, key)
		case http.MethodPut:
			l.servePut(w, r, key)
		default:
			apierror.Write(w, r, apierror.MethodNotAllowed([]string{http.MethodGet, http.MethodHead, http.MethodPut}))
		}
	})
}

func (l *Local) serveGet(w http.ResponseWriter, r *http.Request, key string) {
	if ValidateKey(key) != nil {
		apierror.Write(w, r, apierror.NotFound("no such object"))
		return
	}
	q := r.URL.Query()
	if q.Has("sig") || q.Has("expires") || l.publicRead == nil || !l.publicRead(key) {
		if err := l.verify(http.MethodGet, key, "", q); err != nil {
			apierror.Write(w, r, err)
			return
		}
	}
	f, info, err := l.open(key)
	if errors.Is(err, ErrNotFound) {
		apierror.Write(w, r, apierror.NotFound("no such object"))
		return
	} else if err != nil {
		apierror.Write(w, r, apierror.Internal(err))
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", info.ContentType)
	h.Set("ETag", strconv.Quote(info.ETag))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	http.ServeContent(&problemWriter{ResponseWriter: w, r: r}, r, "", info.ModTime, f)
}

func (l *Local) servePut(w http.ResponseWriter, r *http.Request, key string) {
	ct := r.Header.Get("Content-Type")
	if ValidateKey(key) != nil {
		apierror.Write(w, r, apierror.Forbidden("the signature does not match"))
		return
	}
	if err := l.verify(http.MethodPut, key, ct, r.URL.Query()); err != nil {
		apierror.Write(w, r, err)
		return
	}
	tooLarge := apierror.PayloadTooLarge("the body exceeds " + strconv.FormatInt(l.maxUpload, 10) + " bytes")
	if r.ContentLength > l.maxUpload {
		apierror.Write(w, r, tooLarge)
		return
	}
	err := l.Put(r.Context(), key, http.MaxBytesReader(w, r.Body, l.maxUpload), r.ContentLength, ct)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		apierror.Write(w, r, tooLarge)
		return
	case errors.Is(err, io.ErrUnexpectedEOF):
		apierror.Write(w, r, apierror.BadRequest("the body is shorter than its Content-Length"))
		return
	case err != nil:
		apierror.Write(w, r, apierror.Internal(err))
		return
	}
	if info, err := l.Stat(r.Context(), key); err == nil {
		w.Header().Set("ETag", strconv.Quote(info.ETag))
	}
	w.WriteHeader(http.StatusOK)
}

// verify checks the expires and sig query parameters against method, key and contentType.
func (l *Local) verify(method, key, contentType string, q url.Values) *apierror.Error {
	if !q.Has("sig") || !q.Has("expires") {
		return apierror.Forbidden("a signed URL is required (expires and sig)")
	}
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil {
		return apierror.Forbidden("malformed expires")
	}
	// Strict: the last character of an unpadded encoding has spare bits, which a lenient decoder
	// ignores, so several strings would decode to one valid signature.
	sig, err := base64.RawURLEncoding.Strict().DecodeString(q.Get("sig"))
	if err != nil || !hmac.Equal(sig, l.sign(method, key, contentType, expires)) {
		detail := "the signature does not match the method, key and expiry"
		if method == http.MethodPut {
			detail = "the signature does not match the method, key, expiry and Content-Type"
		}
		return apierror.Forbidden(detail)
	}
	if l.now().Unix() > expires {
		return apierror.Forbidden("the URL expired at " + time.Unix(expires, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// problemWriter turns the plain-text errors of http.ServeContent (412, 416) into problem+json.
type problemWriter struct {
	http.ResponseWriter
	r      *http.Request
	failed bool
}

func (p *problemWriter) WriteHeader(code int) {
	if code < 400 || p.failed {
		p.ResponseWriter.WriteHeader(code)
		return
	}
	p.failed = true
	var e *apierror.Error
	switch code {
	case http.StatusPreconditionFailed:
		e = apierror.PreconditionFailed("a precondition header does not match the object")
	case http.StatusRequestedRangeNotSatisfiable:
		e = &apierror.Error{Status: code, Type: "https://mediamesh.dev/problems/range-not-satisfiable",
			Title: "Range not satisfiable", Detail: "the Range header does not overlap the object"}
	default:
		e = apierror.Internal(fmt.Errorf("objectstore: local: serving the object answered %d", code))
	}
	apierror.Write(p.ResponseWriter, p.r, e)
}

func (p *problemWriter) Write(b []byte) (int, error) {
	if p.failed {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

// ReadFrom keeps sendfile for the body (http.ServeContent copies through io.CopyN).
func (p *problemWriter) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := p.ResponseWriter.(io.ReaderFrom); ok && !p.failed {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{p}, src)
}

// Unwrap gives http.ResponseController the underlying writer.
func (p *problemWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
