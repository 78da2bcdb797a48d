package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
)

// ErrItemsFailed is what Import returns when the import ran to its end but some items failed
// (each is printed); the command exits non-zero.
var ErrItemsFailed = errors.New("some items failed")

// ImportOptions are what `mediamesh import` prints to.
type ImportOptions struct {
	Out io.Writer // the summary, the failed items, and plain progress lines
	// Bar, when not nil, is a terminal: the progress is a bar redrawn in place on it (stderr,
	// say), instead of progress lines on Out.
	Bar io.Writer
}

// Import posts the NDJSON file to the CMS gateway at cfg.Client.URL (POST /api/v1/cms/imports) as
// the client's token, or as the account client.email logs in as, and reports the import's
// progress, each failed item (line, key, status, fields) and the final counts. It returns
// ErrItemsFailed when any item failed, and an error when the import could not run or finish.
func Import(ctx context.Context, cfg ClientConfig, file string, o ImportOptions) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", file)
	}
	base := strings.TrimRight(cfg.URL, "/")
	hc := &http.Client{} // no overall timeout: a large import takes what it takes; ctx cancels it
	token, err := clientToken(ctx, cfg, base, hc)
	if err != nil {
		return err
	}
	client, err := cmsapi.NewClient(base, cmsapi.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	p := &importProgress{o: o, size: st.Size(), started: time.Now()}
	body := &countingReader{r: f, n: &p.sent}
	stopUpload := p.watchUpload()
	resp, err := client.ImportContentWithBody(ctx, "application/x-ndjson", body, func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/x-ndjson")
		req.ContentLength = st.Size()
		return nil
	})
	stopUpload()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return problemError(resp)
	}
	return p.read(resp.Body)
}

// clientToken is the configured token, or the access token of a login with the configured email
// and password through the gateway (the CMS gateway serves the auth operations).
func clientToken(ctx context.Context, cfg ClientConfig, base string, hc *http.Client) (string, error) {
	if cfg.Token != "" {
		return cfg.Token, nil
	}
	if cfg.Email == "" || cfg.Password == "" {
		return "", errors.New("no credentials: set client.token, or client.email and client.password (--client.token, MEDIAMESH_CLIENT_TOKEN, ...)")
	}
	ac, err := authapi.NewClientWithResponses(base, authapi.WithHTTPClient(hc))
	if err != nil {
		return "", err
	}
	pw := cfg.Password
	resp, err := ac.LoginWithResponse(ctx, authapi.LoginRequest{Email: authapi.Email(cfg.Email), Password: &pw})
	if err != nil {
		return "", fmt.Errorf("log in: %w", err)
	}
	if resp.JSON200 == nil {
		return "", fmt.Errorf("log in as %s: %w", cfg.Email, problemError(resp.HTTPResponse, resp.Body))
	}
	return resp.JSON200.AccessToken, nil
}

// problemError is the error of a response that is not a success, from its Problem when it has
// one. body is the response body when already read.
func problemError(resp *http.Response, body ...[]byte) error {
	var data []byte
	if len(body) > 0 {
		data = body[0]
	} else {
		data, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	}
	var p commonapi.Problem
	if json.Unmarshal(data, &p) == nil && p.Title != "" {
		return fmt.Errorf("%d %s", resp.StatusCode, problemText(&p))
	}
	return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
}

// problemText is a Problem in one line: its detail (or title) and every field at fault.
func problemText(p *commonapi.Problem) string {
	text := p.Title
	if p.Detail != nil && *p.Detail != "" {
		text = *p.Detail
	}
	if p.Errors != nil && len(*p.Errors) > 1 {
		var fields []string
		for _, e := range *p.Errors {
			fields = append(fields, e.Field+": "+e.Message)
		}
		text += " (" + strings.Join(fields, "; ") + ")"
	}
	return text
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// importProgress shows an import: the upload of the file, then the server's progress.
type importProgress struct {
	o       ImportOptions
	size    int64
	sent    atomic.Int64
	started time.Time
	drawn   bool // a bar is on the terminal's current line
}

// watchUpload redraws the upload bar on a terminal until the returned function is called.
func (p *importProgress) watchUpload() (stop func()) {
	if p.o.Bar == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.bar("upload", p.sent.Load(), p.size, "bytes", "")
			}
		}
	}()
	return func() { close(done); <-finished }
}

// bar draws a progress bar in place: label, done of total unit, and a tail.
func (p *importProgress) bar(label string, done, total int64, unit, tail string) {
	const width = 30
	filled := width
	if total > 0 {
		filled = int(done * width / total)
	}
	filled = min(max(filled, 0), width)
	fmt.Fprintf(p.o.Bar, "\r\033[K%-7s [%s%s] %d/%d %s%s", label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, unit, tail)
	p.drawn = true
}

// clearBar removes the bar, so that a line can be printed in its place.
func (p *importProgress) clearBar() {
	if p.drawn {
		fmt.Fprint(p.o.Bar, "\r\033[K")
		p.drawn = false
	}
}

// read follows the import's NDJSON answer to its last line.
func (p *importProgress) read(body io.Reader) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var last *cmsapi.ImportMessage
	for sc.Scan() {
		var m cmsapi.ImportMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("import: unreadable answer line %q: %w", sc.Text(), err)
		}
		switch m.Kind {
		case cmsapi.Progress:
			p.progress(&m)
		case cmsapi.Error:
			p.clearBar()
			fmt.Fprintln(p.o.Out, itemError(&m))
		case cmsapi.Done, cmsapi.Aborted:
			last = &m
		}
	}
	p.clearBar()
	if err := sc.Err(); err != nil {
		return fmt.Errorf("import: the answer broke off: %w (items committed so far stay; run the same import again to finish it)", err)
	}
	if last == nil {
		return errors.New("import: the answer ended without a summary (items committed so far stay; run the same import again to finish it)")
	}
	fmt.Fprintln(p.o.Out, summary(last, time.Since(p.started)))
	if last.Kind == cmsapi.Aborted {
		text := "the server stopped the import"
		if last.Problem != nil {
			text += ": " + problemText(last.Problem)
		}
		return errors.New(text + " (items committed so far stay; run the same import again to finish it)")
	}
	if count32(last.Failed) > 0 {
		return ErrItemsFailed
	}
	return nil
}

func (p *importProgress) progress(m *cmsapi.ImportMessage) {
	rate := ""
	if secs := time.Since(p.started).Seconds(); secs > 0 {
		rate = fmt.Sprintf(", %.0f items/s", float64(count32(m.Processed))/secs)
	}
	tail := fmt.Sprintf(" (created %d, updated %d, unchanged %d, failed %d%s)", count32(m.Created), count32(m.Updated), count32(m.Unchanged), count32(m.Failed), rate)
	if p.o.Bar != nil {
		p.bar("import", int64(count32(m.Processed)), int64(count32(m.Total)), "items", tail)
		return
	}
	fmt.Fprintf(p.o.Out, "import: %d/%d items%s\n", count32(m.Processed), count32(m.Total), tail)
}

// itemError is a failed item in one line: its line, key, status and problem.
func itemError(m *cmsapi.ImportMessage) string {
	where := fmt.Sprintf("line %d", count32(m.Line))
	if m.Key != nil {
		where += " (" + *m.Key + ")"
	}
	if m.Problem == nil {
		return where + ": failed"
	}
	return fmt.Sprintf("%s: %d %s", where, m.Problem.Status, problemText(m.Problem))
}

func summary(m *cmsapi.ImportMessage, took time.Duration) string {
	verb := "imported"
	if m.Kind == cmsapi.Aborted {
		verb = "aborted after"
	}
	return fmt.Sprintf("%s %d of %d items in %s: created %d, updated %d, unchanged %d, failed %d",
		verb, count32(m.Processed), count32(m.Total), took.Round(time.Millisecond), count32(m.Created), count32(m.Updated), count32(m.Unchanged), count32(m.Failed))
}

func count32(v *int32) int32 {
	if v == nil {
		return 0
	}
	return *v
}
