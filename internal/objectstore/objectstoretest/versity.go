// Package objectstoretest gives tests a real S3-compatible service: a private VersityGW gateway
// (posix backend in a temporary directory) on a free loopback port.
package objectstoretest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// EnvVersityBin is the environment variable naming the versitygw binary.
const EnvVersityBin = "MEDIAMESH_TEST_VERSITYGW_BIN"

// Region is the region the gateway is started with.
const Region = "us-east-1"

// StartVersity starts a VersityGW gateway of its own for the test (the binary named by
// MEDIAMESH_TEST_VERSITYGW_BIN; without it the test skips, or fails under CI=true) and stops it
// when the test ends. It listens on 127.0.0.1 with random root credentials and stores objects in
// a t.TempDir. The returned config names a fresh bucket with CreateBucket set, ready for
// objectstore.NewS3.
func StartVersity(t testing.TB) objectstore.S3Config {
	t.Helper()
	bin := testenv.Get(t, EnvVersityBin, "a versitygw binary (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
	root := t.TempDir()
	cfg := objectstore.S3Config{
		Region:       Region,
		Bucket:       "mediamesh-test-" + randomHex(t, 6),
		AccessKey:    "AK" + strings.ToUpper(randomHex(t, 9)),
		SecretKey:    randomHex(t, 20),
		CreateBucket: true,
	}
	// The free port may be taken between our check and the gateway's bind: try a few.
	var last error
	for range 3 {
		addr := testenv.FreeAddr(t)
		if last = start(t, bin, addr, root, cfg); last == nil {
			cfg.Endpoint = "http://" + addr
			return cfg
		}
	}
	t.Fatalf("objectstoretest: versitygw did not start: %v", last)
	return cfg
}

// start runs the gateway on addr and waits until its health endpoint answers; on success the
// gateway is stopped at the test's cleanup.
func start(t testing.TB, bin, addr, root string, cfg objectstore.S3Config) error {
	out := &syncBuffer{}
	cmd := exec.Command(bin,
		"--port", addr, "--access", cfg.AccessKey, "--secret", cfg.SecretKey, "--region", cfg.Region,
		"--health", "/health", "--quiet",
		"posix", root)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("exited: %s", strings.TrimSpace(out.String()))
		default:
		}
		if resp, err := client.Get("http://" + addr + "/health"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(func() {
					stop()
					if t.Failed() {
						t.Logf("versitygw output:\n%s", out.String())
					}
				})
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	stop()
	return fmt.Errorf("no answer on %s within 20s: %s", addr, strings.TrimSpace(out.String()))
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// syncBuffer collects the gateway's output from two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
