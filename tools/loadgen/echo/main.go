// Command echo is the bare baseline of the load benchmarks: an echo v4 server that answers every
// GET with the same 1 KB JSON document. Measured in the same run as MediaMesh, it gives the
// ceiling of an HTTP JSON endpoint on the machine, and each scenario is reported as a ratio to it
// (tools/loadgen/wrk.sh), so figures from a noisy, shared machine can be compared.
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18199", "listen address")
	flag.Parse()
	body := []byte(`{"items":[` + strings.TrimSuffix(strings.Repeat(`{"id":"01a24fb5-65b2-7b79-a737-fcc6b0f65aca","title":"weekly interview kitchen"},`, 13), ",") + `]}`)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/*", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, body) })
	log.Fatal(e.Start(*addr))
}
