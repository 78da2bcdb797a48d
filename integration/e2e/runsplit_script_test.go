package e2e

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRunSplitScriptRestarts runs deploy/run-split.sh (SQLite, no Kafka) with a freshly built
// binary, kills the search process with SIGKILL and checks that the script starts it again by
// itself, saying so in its log, while the discovery gateway keeps answering browse requests.
func TestRunSplitScriptRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts nine processes")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is missing")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mediamesh")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/mediamesh")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	offset := splitPortOffset(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "../../deploy/run-split.sh")
	cmd.Env = append(os.Environ(),
		"MEDIAMESH_SPLIT_SKIP_BUILD=1", "MEDIAMESH_SPLIT_BIN="+bin, "MEDIAMESH_SPLIT_DIR="+filepath.Join(dir, "split"),
		"MEDIAMESH_SPLIT_KAFKA_BROKERS=none", "MEDIAMESH_SPLIT_PORT_OFFSET="+strconv.Itoa(offset),
		"MEDIAMESH_SPLIT_POSTGRES_URL=", "MEDIAMESH_SPLIT_REDIS_URL=", "MEDIAMESH_AUTH_ADMIN_PASSWORD=split-script-admin-1",
		"MEDIAMESH_LOG_LEVEL=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs strings.Builder
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM) // the script stops what it started
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})

	// The banner names each process's pid; it ends with "Ctrl-C stops everything."
	searchPID := 0
	pidLine := regexp.MustCompile(`^\s+search\s+\S+\s+pid (\d+)`)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := pidLine.FindStringSubmatch(sc.Text()); m != nil {
			searchPID, _ = strconv.Atoi(m[1])
		}
		if strings.Contains(sc.Text(), "Ctrl-C stops everything") {
			break
		}
	}
	go func() { // keep draining stdout
		for sc.Scan() {
		}
	}()
	if searchPID == 0 {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("run-split did not start (no search pid in its banner); its log:\n%s", logs.String())
	}
	discovery := fmt.Sprintf("http://127.0.0.1:%d", 8080+offset)
	search := fmt.Sprintf("http://127.0.0.1:%d", 9107+offset)
	status := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := status(search + "/readyz"); code != http.StatusOK {
		t.Fatalf("search /readyz before the kill: %d", code)
	}

	if err := syscall.Kill(searchPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	browseFailures := 0
	for time.Since(killed) < 60*time.Second {
		if status(discovery+"/api/v1/discovery/programs?limit=5") != http.StatusOK {
			browseFailures++
		}
		mu.Lock()
		said := strings.Contains(logs.String(), "search (pid "+strconv.Itoa(searchPID)+") exited on its own")
		mu.Unlock()
		if said && status(search+"/readyz") == http.StatusOK {
			t.Logf("search served again %v after SIGKILL", time.Since(killed).Round(10*time.Millisecond))
			if browseFailures > 0 {
				t.Errorf("browse failed %d times while search was down", browseFailures)
			}
			if code := status(discovery + "/readyz"); code != http.StatusOK {
				t.Errorf("discovery gateway /readyz after the restart: %d", code)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Fatalf("search was not restarted within 60 s of SIGKILL; run-split's log:\n%s", logs.String())
}

// writerFunc is an io.Writer of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestDeployRestartPolicies checks that compose and PM2 restart a process that dies, as
// run-split does, instead of leaving the deployment without it: every MediaMesh service of the
// compose file inherits `restart: unless-stopped`, and PM2 restarts with a growing back-off and no
// cap on restarts.
func TestDeployRestartPolicies(t *testing.T) {
	compose, err := os.ReadFile(filepath.Join("..", "..", "deploy", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	anchor := regexp.MustCompile(`(?s)x-mediamesh: &mediamesh\n(.*?)\n\S`).FindSubmatch(compose)
	if anchor == nil || !strings.Contains(string(anchor[1]), "\n  restart: unless-stopped") {
		t.Error("docker-compose.yml: the x-mediamesh anchor has no `restart: unless-stopped`")
	}
	for _, target := range []string{"auth", "cms", "metadata", "media", "ingest", "discovery", "search", "discovery-gateway", "cms-gateway"} {
		svc := regexp.MustCompile(`(?s)\n  ` + regexp.QuoteMeta(target) + `:\n(.*?)\n  \S`).FindSubmatch(compose)
		if svc == nil || !strings.Contains(string(svc[1]), "<<: *mediamesh") {
			t.Errorf("docker-compose.yml: %s does not inherit the x-mediamesh anchor (and its restart policy)", target)
		}
	}
	pm2, err := os.ReadFile(filepath.Join("..", "..", "deploy", "ecosystem.config.js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"autorestart: true", "exp_backoff_restart_delay: "} {
		if !strings.Contains(string(pm2), want) {
			t.Errorf("ecosystem.config.js: no %q", want)
		}
	}
	if strings.Contains(string(pm2), "max_restarts") {
		t.Error("ecosystem.config.js caps restarts: PM2 would give up on a process that keeps dying")
	}
}

// splitPortOffset picks a MEDIAMESH_SPLIT_PORT_OFFSET whose ports (run-split.sh listens on 8080
// and 8081, 9101-9107, and 1000 above each for the admin addresses, plus the offset) are all free
// now, and all below Linux's ephemeral range (32768 and up), from which other tests' connections
// take their local ports: an offset of 30000 put discovery on a port another test had just used.
func splitPortOffset(t *testing.T) int {
	t.Helper()
	ports := []int{8080, 8081, 9080, 9081}
	for p := 9101; p <= 9107; p++ {
		ports = append(ports, p, p+1000)
	}
	for range 50 {
		offset := 12000 + rand.IntN(1000)*10 // at most 10107 + 21990 = 32097
		free := true
		for _, p := range ports {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+offset))
			if err != nil {
				free = false
				break
			}
			_ = l.Close()
		}
		if free {
			return offset
		}
	}
	t.Fatal("no free port range for run-split")
	return 0
}
