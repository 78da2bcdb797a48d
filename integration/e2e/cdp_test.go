package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// browser is a headless Chromium driven over the DevTools protocol on its pipe
// (--remote-debugging-pipe: commands on fd 3, answers and events on fd 4, each JSON message ended
// by a NUL byte), with one page attached. It keeps the page's console errors, exceptions and log
// entries, so a test can tell what the page met (such as a Content-Security-Policy refusal).
type browser struct {
	t        *testing.T
	cmd      *exec.Cmd
	in       io.WriteCloser
	out      chan cdpMessage
	session  string
	next     int
	Problems []string
}

type cdpMessage struct {
	ID     int             `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
}

// newBrowser starts chromium with a blank page and attaches to it; it stops when the test ends.
func newBrowser(t *testing.T, ctx context.Context, chromium string) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// The profile is not a t.TempDir: Chromium's helper processes may still write to it for a
	// moment after the browser exits, which would fail the test's own cleanup.
	profile, err := os.MkdirTemp("", "mediamesh-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+profile, "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, evW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers too are stopped at the end
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	cmdR.Close()
	evW.Close()
	b := &browser{t: t, cmd: cmd, in: cmdW, out: make(chan cdpMessage, 256)}
	go func() {
		defer close(b.out)
		r := bufio.NewReader(evR)
		for {
			raw, err := r.ReadBytes(0)
			if err != nil {
				return
			}
			var m cdpMessage
			if json.Unmarshal(raw[:len(raw)-1], &m) == nil {
				b.out <- m
			}
		}
	}()
	t.Cleanup(func() {
		_, _ = b.call("", "Browser.close", nil)
		b.in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers left behind
		evR.Close()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	var targets struct {
		TargetInfos []struct {
			TargetID string `json:"targetId"`
			Type     string `json:"type"`
		} `json:"targetInfos"`
	}
	b.must("", "Target.getTargets", nil, &targets)
	for _, ti := range targets.TargetInfos {
		if ti.Type == "page" {
			var attached struct {
				SessionID string `json:"sessionId"`
			}
			b.must("", "Target.attachToTarget", map[string]any{"targetId": ti.TargetID, "flatten": true}, &attached)
			b.session = attached.SessionID
			break
		}
	}
	if b.session == "" {
		t.Fatal("chromium: no page to attach to")
	}
	for _, domain := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		b.must(b.session, domain, nil, nil)
	}
	return b
}

// call sends one command (to the page's session, or to the browser when session is empty) and
// waits for its answer, noting the events that arrive meanwhile.
func (b *browser) call(session, method string, params any) (json.RawMessage, error) {
	b.next++
	id := b.next
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": orEmpty(params), "sessionId": session})
	if err != nil {
		return nil, err
	}
	if _, err := b.in.Write(append(msg, 0)); err != nil {
		return nil, err
	}
	for m := range b.out {
		if m.ID == id {
			if m.Error != nil {
				return nil, fmt.Errorf("%s: %s", method, m.Error.Message)
			}
			return m.Result, nil
		}
		b.note(m)
	}
	return nil, errors.New("chromium closed its pipe")
}

func orEmpty(params any) any {
	if params == nil {
		return map[string]any{}
	}
	return params
}

func (b *browser) must(session, method string, params, result any) {
	b.t.Helper()
	raw, err := b.call(session, method, params)
	if err != nil {
		b.t.Fatalf("chromium: %v", err)
	}
	if result != nil {
		if err := json.Unmarshal(raw, result); err != nil {
			b.t.Fatalf("chromium: %s: %v", method, err)
		}
	}
}

// note keeps what the page reported as an error: log entries and console messages of level
// error, and uncaught exceptions.
func (b *browser) note(m cdpMessage) {
	switch m.Method {
	case "Log.entryAdded":
		var p struct {
			Entry struct {
				Level, Source, Text, URL string
			} `json:"entry"`
		}
		if json.Unmarshal(m.Params, &p) == nil && p.Entry.Level == "error" {
			b.Problems = append(b.Problems, fmt.Sprintf("log (%s): %s %s", p.Entry.Source, p.Entry.Text, p.Entry.URL))
		}
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		if json.Unmarshal(m.Params, &p) == nil && p.Type == "error" {
			var parts []string
			for _, a := range p.Args {
				parts = append(parts, fmt.Sprint(a.Value)+a.Description)
			}
			b.Problems = append(b.Problems, "console: "+strings.Join(parts, " "))
		}
	case "Runtime.exceptionThrown":
		b.Problems = append(b.Problems, "exception: "+string(m.Params))
	}
}

// navigate opens url in the page.
func (b *browser) navigate(url string) {
	b.t.Helper()
	b.must(b.session, "Page.navigate", map[string]any{"url": url}, nil)
}

// eval evaluates a JavaScript expression in the page (DevTools' evaluation, not subject to the
// page's Content-Security-Policy) and returns its value as JSON.
func (b *browser) eval(expr string) (json.RawMessage, error) {
	raw, err := b.call(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if err != nil {
		return nil, err
	}
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails json.RawMessage `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	if len(res.ExceptionDetails) > 0 {
		return nil, fmt.Errorf("evaluating %s: %s", expr, res.ExceptionDetails)
	}
	return res.Result.Value, nil
}

// click clicks the element selector names.
func (b *browser) click(selector string) {
	b.t.Helper()
	if _, err := b.eval("document.querySelector(" + strconv.Quote(selector) + ").click()"); err != nil {
		b.t.Fatalf("clicking %s: %v", selector, err)
	}
}

// waitFor evaluates expr until it is true, up to timeout; false when it never was.
func (b *browser) waitFor(expr string, timeout time.Duration) bool {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		v, err := b.eval("Boolean(" + expr + ")")
		if err != nil {
			b.t.Fatalf("chromium: %v", err)
		}
		if string(v) == "true" {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
