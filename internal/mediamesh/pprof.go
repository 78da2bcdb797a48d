package mediamesh

import (
	"net/http"
	"net/http/pprof"
)

// adminHandler is what the admin server serves besides its health and metrics: the Go profiler
// (/debug/pprof/) when withPprof, for measuring under load (see docs/performance.md).
func adminHandler(withPprof bool) http.Handler {
	mux := http.NewServeMux()
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
