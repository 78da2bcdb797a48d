package fault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// failFast is how soon a refused write must answer to count as failing fast.
const failFast = time.Second

// outcome is how one write ended.
type outcome int

const (
	succeeded  outcome = iota // 2xx
	failedFast                // 503 with Retry-After within failFast
	other                     // anything else: slow, another status, no Retry-After, no answer
)

// published is a program whose publication was acknowledged.
type published struct {
	id, word string // word: the word of its title that search finds it by
	at       time.Time
}

// sample is one public read.
type sample struct {
	at   time.Time
	took time.Duration
	code int
	path string
}

// write is one write (a program created and published, or an asset uploaded).
type write struct {
	at      time.Time
	took    time.Duration // of the whole write
	outcome outcome
	detail  string // for other: what happened
}

// readiness is one /readyz probe of a process.
type readiness struct {
	at     time.Time
	target string
	code   int
}

// load drives the platform: public reads through the discovery gateway, writes through the CMS
// gateway, and /readyz of every process, recording every result with its time.
type load struct {
	t      *testing.T
	p      *platform
	client *http.Client
	token  string
	run    string
	image  []byte

	mu        sync.Mutex
	reads     []sample
	writes    []write
	readies   []readiness
	created   []string             // programs whose creation was acknowledged
	pending   map[string]published // published (acknowledged), not yet seen in discovery, by id
	assets    []string             // uploads that were acknowledged
	seeds     []string             // programs the readers read one by one
	serial    int
	readyMute map[string]bool // targets whose readiness is not recorded (a killed process)

	stop chan struct{}
	wg   sync.WaitGroup
}

func newLoad(t *testing.T, p *platform) *load {
	l := &load{t: t, p: p, run: word(time.Now().UnixNano() % 1e6), pending: map[string]published{}, readyMute: map[string]bool{},
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}}}
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for x := 0; x < 16; x++ {
		for y := 0; y < 16; y++ {
			img.Set(x, y, color.RGBA{uint8(x * 16), uint8(y * 16), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	l.image = b.Bytes()
	return l
}

// word spells n in letters only, so the search index takes it as one word.
func word(n int64) string {
	s := ""
	for {
		s = string(rune('a'+n%26)) + s
		n /= 26
		if n == 0 {
			return s
		}
	}
}

// do makes one request and returns its status (0 without an answer), body, headers and time.
func (l *load) do(method, u, token, contentType string, body []byte, header ...string) (int, []byte, http.Header, time.Duration, error) {
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil, nil, time.Since(start), err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b, resp.Header, time.Since(start), err
}

// classify names the outcome of one write request.
func classify(code int, h http.Header, took time.Duration, err error) (outcome, string) {
	switch {
	case err != nil:
		return other, fmt.Sprintf("no answer after %s", took.Round(time.Millisecond))
	case code >= 200 && code < 300:
		return succeeded, ""
	case code == http.StatusServiceUnavailable && h.Get("Retry-After") != "" && took < failFast:
		return failedFast, ""
	case code == http.StatusServiceUnavailable && h.Get("Retry-After") == "":
		return other, "503 without Retry-After"
	case code == http.StatusServiceUnavailable:
		return other, fmt.Sprintf("503 after %s", took.Round(10*time.Millisecond))
	default:
		return other, fmt.Sprintf("%d", code)
	}
}

// login gets an ADMIN access token from the CMS gateway.
func (l *load) login() {
	l.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": l.p.admin.email, "password": l.p.admin.password})
	code, out, _, _, err := l.do("POST", l.p.cms+"/api/v1/auth/login", "", "application/json", body)
	if err != nil || code != 200 {
		l.t.Fatalf("login: %d %v %s", code, err, out)
	}
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(out, &pair); err != nil || pair.AccessToken == "" {
		l.t.Fatalf("login: %s", out)
	}
	l.token = pair.AccessToken
}

// writeProgram creates a program (with an Idempotency-Key) and publishes it, and records the
// outcome: the first request that did not succeed decides it.
func (l *load) writeProgram() write {
	l.mu.Lock()
	l.serial++
	w := l.run + "x" + word(int64(l.serial))
	l.mu.Unlock()
	at := time.Now()
	body := fmt.Sprintf(`{"kind":"show","title":"Fault suite %s","slug":"fault-%s","language":"en"}`, w, w)
	code, out, h, took, err := l.do("POST", l.p.cms+"/api/v1/cms/programs", l.token, "application/json", []byte(body), "Idempotency-Key", "fault-"+w)
	if o, detail := classify(code, h, took, err); o != succeeded {
		return l.record(write{at: at, outcome: o, detail: "create: " + detail})
	}
	var prog struct{ ID string }
	if err := json.Unmarshal(out, &prog); err != nil || prog.ID == "" {
		return l.record(write{at: at, outcome: other, detail: "create: no id in " + string(out)})
	}
	l.mu.Lock()
	l.created = append(l.created, prog.ID)
	l.mu.Unlock()
	code, _, h, took, err = l.do("POST", l.p.cms+"/api/v1/cms/programs/"+prog.ID+"/publish", l.token, "", nil)
	if o, detail := classify(code, h, took, err); o != succeeded {
		return l.record(write{at: at, outcome: o, detail: "publish: " + detail})
	}
	l.mu.Lock()
	l.pending[prog.ID] = published{id: prog.ID, word: w, at: time.Now()}
	l.mu.Unlock()
	return l.record(write{at: at, outcome: succeeded})
}

// upload uploads a small JPEG (with an Idempotency-Key) through the CMS gateway to the media
// service, which keeps it in S3.
func (l *load) upload() write {
	l.mu.Lock()
	l.serial++
	key := fmt.Sprintf("fault-upload-%s-%d", l.run, l.serial)
	l.mu.Unlock()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("file", "cover.jpg")
	_, _ = part.Write(l.image)
	_ = mw.WriteField("visibility", "public")
	mw.Close()
	at := time.Now()
	code, out, h, took, err := l.do("POST", l.p.cms+"/api/v1/media/assets", l.token, mw.FormDataContentType(), body.Bytes(), "Idempotency-Key", key)
	if o, detail := classify(code, h, took, err); o != succeeded {
		return l.record(write{at: at, outcome: o, detail: "upload: " + detail})
	}
	var asset struct{ ID string }
	if err := json.Unmarshal(out, &asset); err != nil || asset.ID == "" {
		return l.record(write{at: at, outcome: other, detail: "upload: no id in " + string(out)})
	}
	l.mu.Lock()
	l.assets = append(l.assets, asset.ID)
	l.mu.Unlock()
	return l.record(write{at: at, outcome: succeeded})
}

func (l *load) record(w write) write {
	w.took = time.Since(w.at)
	l.mu.Lock()
	l.writes = append(l.writes, w)
	l.mu.Unlock()
	return w
}

// readPaths are the public reads: a list, one program, a search.
func (l *load) readPaths(i int) []string {
	l.mu.Lock()
	seed := l.seeds[i%len(l.seeds)]
	l.mu.Unlock()
	return []string{
		"/api/v1/discovery/programs?limit=20",
		"/api/v1/discovery/programs/" + seed,
		"/api/v1/discovery/search?q=" + url.QueryEscape("faultseed") + "&limit=10",
	}
}

// read makes one public read and records it.
func (l *load) read(path string) sample {
	at := time.Now()
	code, _, _, took, _ := l.do("GET", l.p.disc+path, "", "", nil)
	s := sample{at: at, took: took, code: code, path: path}
	l.mu.Lock()
	l.reads = append(l.reads, s)
	l.mu.Unlock()
	return s
}

// seed publishes the programs the readers read and waits until discovery and search show them.
func (l *load) seed(n int) {
	l.t.Helper()
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"kind":"show","title":"Faultseed %s %d","slug":"faultseed-%s-%d","language":"en"}`, l.run, i, l.run, i)
		code, out, _, _, err := l.do("POST", l.p.cms+"/api/v1/cms/programs", l.token, "application/json", []byte(body))
		var prog struct{ ID string }
		if err != nil || code != 201 || json.Unmarshal(out, &prog) != nil {
			l.t.Fatalf("seed program: %d %v %s", code, err, out)
		}
		if code, out, _, _, err := l.do("POST", l.p.cms+"/api/v1/cms/programs/"+prog.ID+"/publish", l.token, "", nil); err != nil || code != 200 {
			l.t.Fatalf("seed publish: %d %v %s", code, err, out)
		}
		l.seeds = append(l.seeds, prog.ID)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range l.seeds {
		for {
			code, _, _, _, _ := l.do("GET", l.p.disc+"/api/v1/discovery/programs/"+id, "", "", nil)
			if code == 200 {
				break
			}
			if time.Now().After(deadline) {
				l.t.Fatalf("seed program %s is not public after 60 s (%d)", id, code)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for {
		_, out, _, _, _ := l.do("GET", l.p.disc+"/api/v1/discovery/search?q=faultseed&limit=10", "", "", nil)
		if strings.Contains(string(out), l.seeds[len(l.seeds)-1]) {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("seed programs are not searchable after 60 s: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// start runs the steady load until stopLoad: two readers, a program writer, an uploader and the
// readiness prober.
func (l *load) start() {
	l.stop = make(chan struct{})
	loop := func(pause time.Duration, f func(i int)) {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				f(i)
				time.Sleep(pause)
			}
		}()
	}
	for r := 0; r < 2; r++ {
		loop(10*time.Millisecond, func(i int) {
			paths := l.readPaths(i + r)
			l.read(paths[(i+r)%len(paths)])
		})
	}
	loop(100*time.Millisecond, func(int) { l.writeProgram() })
	loop(300*time.Millisecond, func(int) { l.upload() })
	for _, target := range l.p.order {
		loop(200*time.Millisecond, func(int) {
			l.mu.Lock()
			mute := l.readyMute[target]
			l.mu.Unlock()
			if mute {
				return
			}
			at := time.Now()
			code := readyz(l.p.procs[target].url())
			l.mu.Lock()
			l.readies = append(l.readies, readiness{at: at, target: target, code: code})
			l.mu.Unlock()
		})
	}
}

func (l *load) stopLoad() {
	close(l.stop)
	l.wg.Wait()
}

// serving reports whether the platform serves: every process is ready, each kind of read answers
// 200 and a write succeeds; it returns when that write was acknowledged, or what is not so.
func (l *load) serving() (time.Time, string) {
	for _, target := range l.p.order {
		if code := readyz(l.p.procs[target].url()); code != 200 {
			return time.Time{}, fmt.Sprintf("%s /readyz %d", target, code)
		}
	}
	for _, path := range l.readPaths(0) {
		if s := l.read(path); s.code != 200 {
			return time.Time{}, fmt.Sprintf("GET %s: %d", path, s.code)
		}
	}
	if w := l.writeProgram(); w.outcome != succeeded {
		if w.outcome == failedFast {
			return time.Time{}, "write: 503 (fast)"
		}
		return time.Time{}, "write: " + w.detail
	}
	return time.Now(), ""
}

// caughtUp reports whether every program published up to the time acked is in discovery, and the
// last of them is found by search; else what is not.
func (l *load) caughtUp(acked time.Time) (bool, string) {
	l.mu.Lock()
	due := map[string]bool{}
	var last published
	for id, p := range l.pending {
		if !p.at.After(acked) {
			due[id] = true
			if p.at.After(last.at) {
				last = p
			}
		}
	}
	l.mu.Unlock()
	for id := range due {
		code, _, _, _, _ := l.do("GET", l.p.disc+"/api/v1/discovery/programs/"+id, "", "", nil)
		if code != 200 {
			return false, fmt.Sprintf("published programs not yet in discovery: %d (e.g. %s: %d)", len(due), id, code)
		}
		l.mu.Lock()
		delete(l.pending, id)
		l.mu.Unlock()
		delete(due, id)
	}
	if last.word != "" {
		_, out, _, _, _ := l.do("GET", l.p.disc+"/api/v1/discovery/search?q="+last.word+"&limit=5", "", "", nil)
		if !strings.Contains(string(out), last.word) {
			l.mu.Lock()
			l.pending[last.id] = last // search is checked again next time
			l.mu.Unlock()
			return false, "the last publication is not yet found by search"
		}
	}
	return true, ""
}

// window is what the load recorded from one time to another.
type window struct {
	reads   []sample
	writes  []write
	readies []readiness
}

func (l *load) window(from, to time.Time) window {
	l.mu.Lock()
	defer l.mu.Unlock()
	var w window
	in := func(at time.Time) bool { return !at.Before(from) && at.Before(to) }
	for _, s := range l.reads {
		if in(s.at) {
			w.reads = append(w.reads, s)
		}
	}
	for _, x := range l.writes {
		if in(x.at) {
			w.writes = append(w.writes, x)
		}
	}
	for _, r := range l.readies {
		if in(r.at) {
			w.readies = append(w.readies, r)
		}
	}
	return w
}

// p99 is the 99th percentile of the reads' times.
func p99(reads []sample) time.Duration {
	if len(reads) == 0 {
		return 0
	}
	d := make([]time.Duration, len(reads))
	for i, s := range reads {
		d[i] = s.took
	}
	slices.Sort(d)
	return d[(len(d)*99+99)/100-1]
}

// slowest lists the n slowest reads and the failed ones' paths.
func slowest(reads []sample, n int) string {
	r := slices.Clone(reads)
	slices.SortFunc(r, func(a, b sample) int { return int(b.took - a.took) })
	var parts []string
	for i := 0; i < n && i < len(r); i++ {
		parts = append(parts, fmt.Sprintf("%s %d %s", r[i].took.Round(100*time.Microsecond), r[i].code, r[i].path))
	}
	failed := map[string]int{}
	for _, s := range reads {
		if s.code != 200 {
			failed[fmt.Sprintf("%d %s", s.code, s.path)]++
		}
	}
	if len(failed) > 0 {
		parts = append(parts, "failed: "+histogram(failed))
	}
	return strings.Join(parts, ", ")
}

// readErrors counts the reads that did not answer 200, by status.
func readErrors(reads []sample) (int, string) {
	byCode := map[int]int{}
	n := 0
	for _, s := range reads {
		if s.code != 200 {
			byCode[s.code]++
			n++
		}
	}
	return n, histogram(byCode)
}

func histogram[K comparable](m map[K]int) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%d× %v", n, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
