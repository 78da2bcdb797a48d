package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/testenv"
)

// TestImportBinaryAll builds the binary, runs it with --target=all, and imports an NDJSON file
// with `mediamesh import` (the same binary as a client, logging in with an email and password):
// the good items are imported while the bad line is reported with its line number and field,
// and the command exits 1; the published items then show in the discovery API and in search.
// Importing the file again creates nothing.
func TestImportBinaryAll(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts it")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mediamesh")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/mediamesh").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmsAddr, discAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	const password = "import test admin password"
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	server := exec.CommandContext(ctx, bin, "--target=all", "--data-dir="+filepath.Join(dir, "data"),
		"--gateway.cms-addr="+cmsAddr, "--gateway.discovery-addr="+discAddr, "--admin-addr=127.0.0.1:0",
		"--auth.admin-password="+password, "--log.level=warn")
	var logs bytes.Buffer
	server.Stdout, server.Stderr = &logs, &logs
	server.Cancel = func() error { return server.Process.Signal(syscall.SIGTERM) }
	server.WaitDelay = 20 * time.Second
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = server.Wait()
		if t.Failed() {
			t.Logf("server output:\n%s", logs.String())
		}
	})
	cms, disc := "http://"+cmsAddr, "http://"+discAddr
	for deadline := time.Now().Add(60 * time.Second); ; {
		if ready(cms) && ready(disc) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the binary did not get ready:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	word := fmt.Sprintf("zephyrine%d", time.Now().UnixNano()%1_000_000)
	var file bytes.Buffer
	line := func(v map[string]any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		file.Write(append(b, '\n'))
	}
	const episodes = 40
	for p := range 2 {
		slug := fmt.Sprintf("%s-%d", word, p)
		line(map[string]any{"type": "program", "slug": slug, "kind": "podcast", "title": fmt.Sprintf("The %s show %d", word, p), "language": "en", "publish": true})
		if p == 0 {
			file.WriteString(`{"type":"episode","program_slug":"` + slug + `","episode_number":1,"title":""}` + "\n") // line 2: empty title
		}
		for n := 1; n <= episodes; n++ {
			line(map[string]any{"type": "episode", "program_slug": slug, "season_number": 1, "episode_number": n, "title": fmt.Sprintf("%s episode %d", word, n), "publish": true})
		}
	}
	path := filepath.Join(dir, "import.ndjson")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	importFile := func() (int, string) {
		cmd := exec.CommandContext(ctx, bin, "import", "--client.url="+cms, "--client.email=admin@mediamesh.local", path)
		cmd.Env = append(os.Environ(), "MEDIAMESH_CLIENT_PASSWORD="+password)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("mediamesh import: %v\n%s", err, out)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}
	items := 2 + 2*episodes
	code, out := importFile()
	if code != 1 {
		t.Fatalf("mediamesh import exited %d, want 1 (one item failed):\n%s", code, out)
	}
	for _, want := range []string{
		fmt.Sprintf("line 2 (%s-0/-/1): 422 title:", word),
		fmt.Sprintf("import: %d/%d items (created %d, updated 0, unchanged 0, failed 1", items+1, items+1, items),
		fmt.Sprintf("imported %d of %d items in", items+1, items+1),
		fmt.Sprintf("created %d, updated 0, unchanged 0, failed 1", items),
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("the output lacks %q:\n%s", want, out)
		}
	}

	// The published items reach the discovery API and search.
	token := login(t, cms, "admin@mediamesh.local", password)
	code, body := call(t, "GET", cms+"/api/v1/cms/programs?q="+word+"&limit=10", token, "")
	var list struct {
		Items []struct{ ID, Slug, Status string }
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list.Items) != 2 {
		t.Fatalf("CMS list: %d %s", code, body)
	}
	a := &api{t: t, cms: cms, disc: disc, token: token}
	for _, p := range list.Items {
		if p.Status != "published" {
			t.Fatalf("program %+v is not published", p)
		}
		a.await("/api/v1/discovery/programs/"+p.ID, http.StatusOK, word)
		a.await("/api/v1/discovery/programs/"+p.ID+"/episodes?limit=100", http.StatusOK, fmt.Sprintf("%s episode %d", word, episodes))
		a.await("/api/v1/discovery/search?type=program&q="+url.QueryEscape(word)+"&limit=10", http.StatusOK, p.ID)
	}
	a.await("/api/v1/discovery/search?type=episode&q="+url.QueryEscape(word+" episode 17")+"&limit=100", http.StatusOK, fmt.Sprintf("%s episode 17", word))

	// The same file again: nothing new, the bad line still reported.
	code, out = importFile()
	if want := fmt.Sprintf("created 0, updated 0, unchanged %d, failed 1", items); code != 1 || !strings.Contains(out, want) {
		t.Fatalf("second import exited %d, want 1 with %q:\n%s", code, want, out)
	}
}

// ready reports whether the server at base answers its /readyz with 200.
func ready(base string) bool {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
