package httpclient

import (
	"net/http"
	"net/http/httptest"
)

// HandlerTransport returns an http.RoundTripper that serves every request with h, in this
// process: how one service reaches another when both run in `--target=all`. The request goes
// through h exactly as it would over the network (same contract checks, same auth), and the
// response is buffered before it is returned. Wrap it in New (Config.Transport) to keep the
// timeout, retry, breaker and bulkhead of the network path.
func HandlerTransport(h http.Handler) http.RoundTripper {
	return handlerTransport{h}
}

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	in := req.Clone(req.Context())
	in.RequestURI = in.URL.RequestURI()
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, in)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
