// Command echo is the bare baseline of the load benchmarks: an echo v4 server that answers every
// GET with the same 1 KB JSON document (POST /import by reading an NDJSON body, and POST
// /api/v1/discovery/events by decoding a JSON batch of events). Measured in the same run as MediaMesh, it gives the
// ceiling of an HTTP JSON endpoint on the machine, and each scenario is reported as a ratio to it
// (tools/loadgen/wrk.sh), so figures from a noisy, shared machine can be compared.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
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
	// The baseline of the import benchmark (loadgen -import): read an NDJSON body, count its
	// lines, answer one NDJSON line.
	e.POST("/import", func(c echo.Context) error {
		data, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		n := bytes.Count(data, []byte("\n"))
		c.Response().Header().Set("Content-Type", "application/x-ndjson")
		return c.String(http.StatusOK, `{"kind":"done","total":`+strconv.Itoa(n)+"}\n")
	})
	// The baseline of the engagement benchmark (tools/loadgen/engagement.sh): decode a batch of
	// events, answer 202 with how many it held.
	e.POST("/api/v1/discovery/events", func(c echo.Context) error {
		var batch struct {
			ClientID string            `json:"client_id"`
			Events   []json.RawMessage `json:"events"`
		}
		if err := json.NewDecoder(c.Request().Body).Decode(&batch); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		return c.JSON(http.StatusAccepted, map[string]int{"accepted": len(batch.Events)})
	})
	log.Fatal(e.Start(*addr))
}
