package fault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// The targets of the split deployment, in start order (auth first, the gateways last), as
// deploy/run-split.sh starts them.
var (
	services = []string{"auth", "metadata", "cms", "media", "ingest", "discovery", "search"}
	gateways = []string{"discovery-gateway", "cms-gateway"}
)

// platform is the split deployment under test: one OS process per target of the real binary, on
// dependencies the test owns (so it may stop and pause them).
type platform struct {
	t     *testing.T
	bin   string
	dir   string
	procs map[string]*process
	order []string

	pg    *databasetest.Server
	redis *testenv.RedisServer
	kafka *kafkaBroker
	s3    *versity

	disc, cms string // the gateways' base URLs
	admin     struct{ email, password string }
}

// process is one target's OS process, restarted by the test as a supervisor would.
type process struct {
	target string
	addr   string // host:port of its public listener
	env    []string
	logf   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *process) url() string { return "http://" + p.addr }

// binary returns the mediamesh binary: MEDIAMESH_FAULT_BIN, or one built into the test's directory.
func binary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("MEDIAMESH_FAULT_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "mediamesh")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/mediamesh")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startPlatform starts the dependencies (a private PostgreSQL with one database per service, a
// private Redis, a private Kafka broker, a private VersityGW) and then every target, and waits until
// every /readyz answers 200. Missing external parts skip the test, or fail it under CI=true.
func startPlatform(t *testing.T) *platform {
	t.Helper()
	p := &platform{t: t, procs: map[string]*process{}}
	// The dependencies first: each skips (or fails under CI) when its binaries are missing.
	p.pg = databasetest.StartServer(t)
	p.redis = testenv.StartRedis(t)
	p.s3 = startVersity(t)
	p.kafka = startKafka(t)
	p.bin = binary(t)
	p.dir = t.TempDir()
	if os.Getenv("MEDIAMESH_FAULT_KEEP_LOGS") != "" {
		p.dir, _ = filepath.Abs(filepath.Join("..", "..", ".tmp", "fault", time.Now().Format("20060102-150405")))
		if err := os.MkdirAll(p.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Logf("process logs in %s", p.dir)
	}

	// One database per service on the private server.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := database.Open(ctx, p.pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	dbURL := map[string]string{}
	for _, s := range services {
		if _, err := admin.ExecContext(ctx, `CREATE DATABASE mediamesh_`+s); err != nil {
			t.Fatalf("create database mediamesh_%s: %v", s, err)
		}
		dbURL[s] = strings.Replace(p.pg.URL, "/postgres?", "/mediamesh_"+s+"?", 1)
	}
	admin.Close()

	addr := map[string]string{}
	for _, target := range append(append([]string{}, services...), gateways...) {
		addr[target] = testenv.FreeAddr(t)
	}
	p.admin.email, p.admin.password = "fault-admin@mediamesh.test", "fault suite admin password"
	common := []string{
		"MEDIAMESH_REDIS_URL=" + p.redis.URL(),
		"MEDIAMESH_KAFKA_BROKERS=" + p.kafka.addr,
		"MEDIAMESH_GATEWAY_DISCOVERY_ADDR=" + addr["discovery-gateway"],
		"MEDIAMESH_GATEWAY_CMS_ADDR=" + addr["cms-gateway"],
		"MEDIAMESH_GATEWAY_RATE_LIMITS=false", // one client address makes the whole load
		"MEDIAMESH_AUTH_ADMIN_EMAIL=" + p.admin.email,
		"MEDIAMESH_AUTH_ADMIN_PASSWORD=" + p.admin.password,
		"MEDIAMESH_INGEST_ACCOUNT_PASSWORD=fault suite ingest account password",
		"MEDIAMESH_INGEST_CREDENTIALS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"MEDIAMESH_MEDIA_S3_ENDPOINT=" + p.s3.endpoint,
		"MEDIAMESH_MEDIA_S3_REGION=" + p.s3.region,
		"MEDIAMESH_MEDIA_S3_BUCKET=" + p.s3.bucket,
		"MEDIAMESH_MEDIA_S3_ACCESS_KEY=" + p.s3.access,
		"MEDIAMESH_MEDIA_S3_SECRET_KEY=" + p.s3.secret,
		"MEDIAMESH_LOG_LEVEL=warn",
	}
	for _, s := range services {
		k := envKey(s)
		common = append(common, "MEDIAMESH_SERVICES_"+k+"_ADDR="+addr[s], "MEDIAMESH_SERVICES_"+k+"_URL=http://"+addr[s])
	}
	// The children get the test's environment without any MEDIAMESH_ variable of its own.
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEDIAMESH_") {
			base = append(base, kv)
		}
	}
	for _, target := range append(append([]string{}, services...), gateways...) {
		env := append(append([]string{}, base...), common...)
		env = append(env, "MEDIAMESH_DATA_DIR="+filepath.Join(p.dir, target), "MEDIAMESH_ADMIN_ADDR="+testenv.FreeAddr(t))
		if u, ok := dbURL[target]; ok {
			env = append(env, "MEDIAMESH_SERVICES_"+envKey(target)+"_DATABASE_URL="+u)
		}
		p.procs[target] = &process{target: target, addr: addr[target], env: env, logf: filepath.Join(p.dir, target+".log")}
		p.order = append(p.order, target)
	}
	t.Cleanup(p.stopAll)

	p.start("auth")
	p.awaitReady(60*time.Second, "auth")
	for _, s := range services[1:] {
		p.start(s)
	}
	p.awaitReady(90*time.Second, services[1:]...)
	for _, g := range gateways {
		p.start(g)
	}
	p.awaitReady(60*time.Second, gateways...)
	p.disc, p.cms = p.procs["discovery-gateway"].url(), p.procs["cms-gateway"].url()
	return p
}

// start runs target's process (again).
func (p *platform) start(target string) {
	p.t.Helper()
	pr := p.procs[target]
	if err := os.MkdirAll(filepath.Join(p.dir, target), 0o755); err != nil {
		p.t.Fatal(err)
	}
	logf, err := os.OpenFile(pr.logf, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== fault suite: starting %s at %s ===\n", target, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, "--target="+target)
	cmd.Env = pr.env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatalf("start %s: %v", target, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	pr.mu.Lock()
	pr.cmd, pr.done = cmd, done
	pr.mu.Unlock()
}

// kill sends SIGKILL to target's process and waits until it is gone.
func (p *platform) kill(target string) {
	p.t.Helper()
	pr := p.procs[target]
	pr.mu.Lock()
	cmd, done := pr.cmd, pr.done
	pr.mu.Unlock()
	if err := cmd.Process.Kill(); err != nil {
		p.t.Fatalf("kill %s: %v", target, err)
	}
	<-done
}

// stopAll stops every process (gateways first, auth last) with SIGTERM, then SIGKILL.
func (p *platform) stopAll() {
	for i := len(p.order) - 1; i >= 0; i-- {
		pr := p.procs[p.order[i]]
		pr.mu.Lock()
		cmd, done := pr.cmd, pr.done
		pr.mu.Unlock()
		if cmd == nil {
			continue
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
}

// exited reports whether target's process has exited (on its own, or killed).
func (p *platform) exited(target string) bool {
	pr := p.procs[target]
	pr.mu.Lock()
	defer pr.mu.Unlock()
	select {
	case <-pr.done:
		return true
	default:
		return false
	}
}

// awaitReady waits until the /readyz of every target answers 200.
func (p *platform) awaitReady(within time.Duration, targets ...string) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for _, target := range targets {
		for readyz(p.procs[target].url()) != http.StatusOK {
			if p.exited(target) || time.Now().After(deadline) {
				p.t.Fatalf("%s is not ready (/readyz %d); the end of its log:\n%s", target, readyz(p.procs[target].url()), p.logTail(target))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// logTail is the end of target's log.
func (p *platform) logTail(target string) string {
	b, _ := os.ReadFile(p.procs[target].logf)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

var probe = &http.Client{Timeout: time.Second}

// readyz is the status of GET base/readyz (0 when it does not answer within a second).
func readyz(base string) int {
	resp, err := probe.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func envKey(target string) string { return strings.ToUpper(strings.ReplaceAll(target, "-", "_")) }

// kafkaBroker is a single-node broker of the test's own, from the tools/kafka installation in
// MEDIAMESH_TEST_KAFKA_FAULT_HOME, run from a directory of its own (its own data, pid file and ports)
// so it never touches the broker the outbox fault test stops and starts from the same installation.
type kafkaBroker struct {
	t    *testing.T
	dir  string
	addr string
	env  []string
}

func startKafka(t *testing.T) *kafkaBroker {
	t.Helper()
	home := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_FAULT_HOME", "a Kafka installation of the test's own (bash tools/kafka/install.sh DIR)")
	if _, err := os.Stat(filepath.Join(home, ".installed")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MEDIAMESH_TEST_KAFKA_FAULT_HOME=%s has no installation: run tools/kafka/install.sh %s", home, home)
		}
		t.Skipf("MEDIAMESH_TEST_KAFKA_FAULT_HOME=%s has no installation (bash tools/kafka/install.sh %s)", home, home)
	}
	dir := t.TempDir()
	// The jars and the class-data archive are shared read-only; the rest is this broker's.
	for _, name := range []string{"libs", "kafka.jsa"} {
		if _, err := os.Stat(filepath.Join(home, name)); err == nil {
			if err := os.Symlink(filepath.Join(home, name), filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, name := range []string{".installed", "config/log4j.properties"} {
		b, err := os.ReadFile(filepath.Join(home, name))
		if err != nil {
			t.Fatal(err)
		}
		_ = os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port, cport := testenv.FreeAddr(t), testenv.FreeAddr(t)
	_, port, _ = net.SplitHostPort(port)
	_, cport, _ = net.SplitHostPort(cport)
	k := &kafkaBroker{t: t, dir: dir, addr: "127.0.0.1:" + port,
		env: append(os.Environ(), "KAFKA_PORT="+port, "KAFKA_CONTROLLER_PORT="+cport)}
	k.script("start.sh")
	t.Cleanup(func() {
		_ = k.signal(syscall.SIGCONT)
		k.script("stop.sh")
	})
	return k
}

// script runs tools/kafka/NAME on the broker's directory.
func (k *kafkaBroker) script(name string) {
	k.t.Helper()
	cmd := exec.Command("bash", "../../tools/kafka/"+name, k.dir)
	cmd.Env = k.env
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(k.dir, "logs", "kafka.out"))
		k.t.Fatalf("kafka %s: %v\n%s\nlogs/kafka.out:\n%s", name, err, out, log)
	}
}

// signal sends sig to the broker's JVM.
func (k *kafkaBroker) signal(sig syscall.Signal) error {
	b, err := os.ReadFile(filepath.Join(k.dir, "kafka.pid"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	return syscall.Kill(pid, sig)
}

// versity is a VersityGW S3 gateway of the test's own (posix backend in a temporary directory),
// which the test may stop, start and pause. It is started as objectstoretest.StartVersity starts
// one, with the process kept.
type versity struct {
	t                      *testing.T
	bin, root, addr        string
	endpoint, region       string
	bucket, access, secret string

	cmd  *exec.Cmd
	done chan struct{}
	out  *bytes.Buffer
}

func startVersity(t *testing.T) *versity {
	t.Helper()
	bin := testenv.Get(t, "MEDIAMESH_TEST_VERSITYGW_BIN", "a versitygw binary (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
	v := &versity{t: t, bin: bin, root: t.TempDir(), addr: testenv.FreeAddr(t), region: "us-east-1",
		bucket: "mediamesh-fault", access: "AKFAULTSUITE0001", secret: "fault-suite-secret-key-0123456789abcdef"}
	v.endpoint = "http://" + v.addr
	v.start()
	t.Cleanup(v.stop)
	return v
}

// start runs the gateway and waits until its health endpoint answers.
func (v *versity) start() {
	v.t.Helper()
	v.out = &bytes.Buffer{}
	v.cmd = exec.Command(v.bin, "--port", v.addr, "--access", v.access, "--secret", v.secret, "--region", v.region,
		"--health", "/health", "--quiet", "posix", v.root)
	v.cmd.Stdout, v.cmd.Stderr = v.out, v.out
	if err := v.cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = v.cmd.Wait(); close(done) }()
	v.done = done
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		select {
		case <-done:
			v.t.Fatalf("versitygw exited: %s", v.out.String())
		default:
		}
		if resp, err := probe.Get(v.endpoint + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	v.t.Fatalf("versitygw did not answer on %s within 20 s", v.addr)
}

// stop kills the gateway (after resuming it, if paused) and waits until it is gone.
func (v *versity) stop() {
	if v.cmd == nil {
		return
	}
	_ = v.cmd.Process.Signal(syscall.SIGCONT)
	_ = v.cmd.Process.Kill()
	<-v.done
	v.cmd = nil
}

func (v *versity) pause()  { _ = v.cmd.Process.Signal(syscall.SIGSTOP) }
func (v *versity) resume() { _ = v.cmd.Process.Signal(syscall.SIGCONT) }

const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)
