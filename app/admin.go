package app

import (
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"

	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// adminAddr is the admin server's address: configured, or loopback 1000 above the port of the
// process's first server (the discovery gateway's 8080 -> 9080, auth's 9101 -> 10101), so that the
// processes of a split deployment on one host do not meet; port 0 stays 0.
func adminAddr(configured string, servers []*httpserver.Server) string {
	if configured != "" {
		return configured
	}
	port := 0
	if len(servers) > 0 {
		if _, p, err := net.SplitHostPort(servers[0].Addr); err == nil {
			if n, err := strconv.Atoi(p); err == nil && n > 0 && n+1000 <= 65535 {
				port = n + 1000
			}
		}
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

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
