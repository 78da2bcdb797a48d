package objectstore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultMaxUploadBytes is the upload limit of Local.Handler when LocalConfig.MaxUploadBytes is
// zero: 5 GiB, the largest single PUT S3 accepts.
const DefaultMaxUploadBytes int64 = 5 << 30

// LocalConfig configures a Local store.
type LocalConfig struct {
	// Dir holds the store: objects/<key> (the bytes), meta/<key> (JSON with the content type) and
	// tmp/ (uploads in progress). Created if missing.
	Dir string
	// BaseURL is the absolute URL where Handler is mounted, e.g. http://localhost:8080/media;
	// presigned URLs are BaseURL + "/" + escaped key + "?expires=…&sig=…".
	BaseURL string
	// Secret is the HMAC-SHA256 key that signs presigned URLs, at least 32 bytes. Every process
	// that serves the same Dir must share it.
	Secret []byte
	// MaxUploadBytes caps the body of a PUT through Handler (413 beyond it). Zero means
	// DefaultMaxUploadBytes. Put itself has no limit.
	MaxUploadBytes int64
	// Now is the clock for signing and checking expiries; nil means time.Now.
	Now func() time.Time
	// PublicRead, when set, lets Handler serve GET and HEAD without a signature for every key it
	// returns true for (e.g. renditions of published media). Nil means every read must be signed.
	// A request that carries a signature is always checked, public key or not.
	PublicRead func(key string) bool
}

// Local is a Store of files on one disk, for the embedded mode. Every write goes to a temporary
// file that is synced and then renamed into place, so a reader sees the old object or the new one,
// never a part. The ETag is the MD5 of the bytes, as S3 gives for a single-part upload. Keys map to paths, so one key cannot be both an object and a "directory" of others
// ("a" and "a/b"): the second Put fails.
//
// Presigned URLs point at Handler, which the caller mounts at BaseURL.
type Local struct {
	dataDir, metaDir, tmpDir string
	baseURL                  string
	secret                   []byte
	maxUpload                int64
	now                      func() time.Time
	publicRead               func(string) bool

	// locks orders the two renames of a Put against a concurrent Put, Delete or read of the same
	// key (striped by key hash), so an object and its content type always belong together.
	locks [64]sync.RWMutex
}

var _ Store = (*Local)(nil)

// localMeta is the content of a meta/<key> file.
type localMeta struct {
	ContentType string `json:"content_type"`
	ETag        string `json:"etag"` // hex MD5 of the bytes, as S3 gives for a single-part upload
}

// NewLocal creates the directories under cfg.Dir and returns a Local store.
func NewLocal(cfg LocalConfig) (*Local, error) {
	if cfg.Dir == "" {
		return nil, errors.New("objectstore: local: Dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("objectstore: local: %w", err)
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" ||
		base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("objectstore: local: BaseURL %q must be an absolute http(s) URL without query", cfg.BaseURL)
	}
	if len(cfg.Secret) < 32 {
		return nil, errors.New("objectstore: local: Secret must be at least 32 bytes")
	}
	if cfg.MaxUploadBytes < 0 {
		return nil, errors.New("objectstore: local: MaxUploadBytes must not be negative")
	}
	l := &Local{
		dataDir:    filepath.Join(dir, "objects"),
		metaDir:    filepath.Join(dir, "meta"),
		tmpDir:     filepath.Join(dir, "tmp"),
		baseURL:    strings.TrimSuffix(cfg.BaseURL, "/"),
		secret:     append([]byte(nil), cfg.Secret...),
		maxUpload:  cfg.MaxUploadBytes,
		now:        cfg.Now,
		publicRead: cfg.PublicRead,
	}
	if l.maxUpload == 0 {
		l.maxUpload = DefaultMaxUploadBytes
	}
	if l.now == nil {
		l.now = time.Now
	}
	for _, d := range []string{l.dataDir, l.metaDir, l.tmpDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("objectstore: local: %w", err)
		}
	}
	l.removeStaleTemps()
	return l, nil
}

// removeStaleTemps deletes uploads left in tmp/ by a crash (older than a day, so an upload in
// progress in another process sharing Dir survives).
func (l *Local) removeStaleTemps() {
	entries, err := os.ReadDir(l.tmpDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			_ = os.Remove(filepath.Join(l.tmpDir, e.Name()))
		}
	}
}

func (l *Local) dataPath(key string) string { return filepath.Join(l.dataDir, filepath.FromSlash(key)) }
func (l *Local) metaPath(key string) string { return filepath.Join(l.metaDir, filepath.FromSlash(key)) }

func (l *Local) lock(key string) *sync.RWMutex { return &l.locks[l.lockIndex(key)] }

func (l *Local) lockIndex(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(len(l.locks)))
}

// lockPair locks the keys src and dst (once when they share a lock) and returns the unlock. The
// locks are taken in the order of their place in l.locks, so a move of a to b and one of b to a
// cannot each hold the lock the other waits for.
func (l *Local) lockPair(src, dst string) (unlock func()) {
	i, j := l.lockIndex(src), l.lockIndex(dst)
	if j < i {
		i, j = j, i
	}
	first, second := &l.locks[i], &l.locks[j]
	first.Lock()
	if second == first {
		return first.Unlock
	}
	second.Lock()
	return func() { second.Unlock(); first.Unlock() }
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	ct, err := checkPut("local", key, size, contentType)
	if err != nil {
		return err
	}
	src := r
	if size >= 0 {
		src = io.LimitReader(r, size)
	}
	sum := md5.New()
	data, err := l.writeTemp(io.TeeReader(ctxReader{ctx: ctx, r: src}, sum))
	if err != nil {
		return fmt.Errorf("objectstore: local: put %q: %w", key, err)
	}
	defer os.Remove(data) // no-op once renamed
	if size >= 0 {
		if fi, err := os.Stat(data); err != nil {
			return fmt.Errorf("objectstore: local: put %q: %w", key, err)
		} else if fi.Size() != size {
			return fmt.Errorf("objectstore: local: put %q: got %d of %d bytes: %w", key, fi.Size(), size, io.ErrUnexpectedEOF)
		}
	}
	mb, _ := json.Marshal(localMeta{ContentType: ct, ETag: hex.EncodeToString(sum.Sum(nil))})
	meta, err := l.writeTemp(bytes.NewReader(mb))
	if err != nil {
		return fmt.Errorf("objectstore: local: put %q: %w", key, err)
	}
	defer os.Remove(meta)

	// Metadata first: a crash between the renames leaves a new key without its bytes (absent), not
	// bytes under a stale content type.
	mu := l.lock(key)
	mu.Lock()
	err = place(meta, l.metaPath(key))
	if err == nil {
		err = place(data, l.dataPath(key))
	}
	mu.Unlock()
	if err != nil {
		return fmt.Errorf("objectstore: local: put %q: %w", key, err)
	}
	syncDir(filepath.Dir(l.metaPath(key)))
	syncDir(filepath.Dir(l.dataPath(key)))
	return nil
}

// writeTemp copies r into a new synced file under tmp/ and returns its path.
func (l *Local) writeTemp(r io.Reader) (path string, err error) {
	f, err := os.CreateTemp(l.tmpDir, "put-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = io.Copy(f, r); err != nil {
		return "", err
	}
	if err = f.Sync(); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// place renames tmp to dst, creating dst's parent. A concurrent Delete may prune that parent
// between the two steps, so an ENOENT is retried.
func place(tmp, dst string) error {
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return err
		}
		err := os.Rename(tmp, dst)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			return err
		}
	}
}

// syncDir makes a rename in dir durable; errors are ignored (some filesystems refuse it).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Open implements Store. The reader is an *os.File.
func (l *Local) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	f, _, err := l.open(key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	f, info, err := l.open(key)
	if err != nil {
		return Info{}, err
	}
	_ = f.Close()
	return info, nil
}

// open opens the object's file and describes it, consistently with its content type.
func (l *Local) open(key string) (*os.File, Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Info{}, err
	}
	mu := l.lock(key)
	mu.RLock()
	defer mu.RUnlock()
	f, err := os.Open(l.dataPath(key))
	if err != nil {
		if isNotExist(err) {
			return nil, Info{}, fmt.Errorf("%w: %q", ErrNotFound, key)
		}
		return nil, Info{}, fmt.Errorf("objectstore: local: open %q: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		if err != nil {
			return nil, Info{}, fmt.Errorf("objectstore: local: stat %q: %w", key, err)
		}
		return nil, Info{}, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	// Without metadata (a file put there by hand) the ETag falls back to size and mtime.
	info := Info{Key: key, Size: fi.Size(), ContentType: DefaultContentType, ModTime: fi.ModTime(),
		ETag: strconv.FormatInt(fi.Size(), 16) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 16)}
	if b, err := os.ReadFile(l.metaPath(key)); err == nil {
		var m localMeta
		if json.Unmarshal(b, &m) == nil {
			if m.ContentType != "" {
				info.ContentType = m.ContentType
			}
			if m.ETag != "" {
				info.ETag = m.ETag
			}
		}
	}
	return f, info, nil
}

// isNotExist reports a path that does not exist, also when a parent is a file (key "a/b", object "a").
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Delete implements Store. It also removes directories the deletion leaves empty.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	mu := l.lock(key)
	mu.Lock()
	err := l.remove(key)
	mu.Unlock()
	if err != nil {
		return fmt.Errorf("objectstore: local: delete %q: %w", key, err)
	}
	pruneEmpty(l.dataDir, filepath.Dir(l.dataPath(key)))
	pruneEmpty(l.metaDir, filepath.Dir(l.metaPath(key)))
	return nil
}

// Move implements Store by renaming the object's bytes and metadata (one filesystem).
func (l *Local) Move(ctx context.Context, src, dst string) error {
	for _, k := range []string{src, dst} {
		if err := ValidateKey(k); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	defer l.lockPair(src, dst)()
	if _, err := os.Stat(l.dataPath(src)); isNotExist(err) {
		return fmt.Errorf("%w: %q", ErrNotFound, src)
	}
	// Metadata first, as Put: a crash between the renames leaves dst absent, not mislabelled.
	err := place(l.metaPath(src), l.metaPath(dst))
	if err == nil {
		err = place(l.dataPath(src), l.dataPath(dst))
	}
	if err != nil {
		return fmt.Errorf("objectstore: local: move %q to %q: %w", src, dst, err)
	}
	syncDir(filepath.Dir(l.dataPath(dst)))
	pruneEmpty(l.dataDir, filepath.Dir(l.dataPath(src)))
	pruneEmpty(l.metaDir, filepath.Dir(l.metaPath(src)))
	return nil
}

// Copy implements Store. The copy's bytes are a hard link to src's file (Local never writes a file
// in place: every Put renames a new one over the key, so the two keys never share a change), or a
// byte copy where the filesystem has no hard links; its metadata is copied. Both are placed by
// rename, metadata first, as Put does.
func (l *Local) Copy(ctx context.Context, src, dst string) error {
	for _, k := range []string{src, dst} {
		if err := ValidateKey(k); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if src == dst {
		_, err := l.Stat(ctx, src)
		return err
	}
	defer l.lockPair(src, dst)()
	fi, err := os.Stat(l.dataPath(src))
	if isNotExist(err) || (err == nil && !fi.Mode().IsRegular()) {
		return fmt.Errorf("%w: %q", ErrNotFound, src)
	}
	fail := func(err error) error { return fmt.Errorf("objectstore: local: copy %q to %q: %w", src, dst, err) }
	if err != nil {
		return fail(err)
	}
	data, err := l.linkTemp(l.dataPath(src))
	if err != nil {
		return fail(err)
	}
	defer os.Remove(data) // no-op once renamed
	mb, err := os.ReadFile(l.metaPath(src))
	switch {
	case isNotExist(err): // a file put there by hand: the copy has no metadata either
		if err := os.Remove(l.metaPath(dst)); err != nil && !isNotExist(err) {
			return fail(err)
		}
	case err != nil:
		return fail(err)
	default:
		meta, err := l.writeTemp(bytes.NewReader(mb))
		if err != nil {
			return fail(err)
		}
		defer os.Remove(meta)
		if err := place(meta, l.metaPath(dst)); err != nil {
			return fail(err)
		}
	}
	if err := place(data, l.dataPath(dst)); err != nil {
		return fail(err)
	}
	syncDir(filepath.Dir(l.metaPath(dst)))
	syncDir(filepath.Dir(l.dataPath(dst)))
	return nil
}

// linkTemp makes a new name under tmp/ for the file at p: a hard link, or a synced copy of its
// bytes where hard links are refused.
func (l *Local) linkTemp(p string) (string, error) {
	var r [12]byte
	_, _ = rand.Read(r[:])
	name := filepath.Join(l.tmpDir, "link-"+hex.EncodeToString(r[:]))
	if err := os.Link(p, name); err == nil {
		return name, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return l.writeTemp(f)
}

func (l *Local) remove(key string) error {
	data := l.dataPath(key)
	fi, err := os.Lstat(data)
	switch {
	case isNotExist(err):
	case err != nil:
		return err
	case fi.IsDir(): // a "directory" of other keys, not an object
		return nil
	default:
		if err := os.Remove(data); err != nil && !isNotExist(err) {
			return err
		}
	}
	if err := os.Remove(l.metaPath(key)); err != nil && !isNotExist(err) {
		return err
	}
	return nil
}

// pruneEmpty removes dir and its parents up to (not including) root while they are empty.
func pruneEmpty(root, dir string) {
	for dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// Ping implements Store: the directory is there and writable.
func (l *Local) Ping(ctx context.Context) error {
	f, err := os.CreateTemp(l.tmpDir, "ping-*")
	if err != nil {
		return fmt.Errorf("objectstore: local: %w", err)
	}
	_ = f.Close()
	return os.Remove(f.Name())
}

// PresignPut implements Store. The URL is served by Handler; the PUT must carry exactly
// "Content-Type: contentType" (the signature covers it).
func (l *Local) PresignPut(ctx context.Context, key, contentType string, ttl time.Duration) (string, map[string]string, error) {
	if err := checkPresignPut(key, contentType, ttl); err != nil {
		return "", nil, err
	}
	return l.signedURL(http.MethodPut, key, contentType, ttl), map[string]string{"Content-Type": contentType}, nil
}

// PresignGet implements Store. The URL is served by Handler (GET and HEAD).
func (l *Local) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if err := checkTTL(ttl); err != nil {
		return "", err
	}
	return l.signedURL(http.MethodGet, key, "", ttl), nil
}

func (l *Local) signedURL(method, key, contentType string, ttl time.Duration) string {
	expires := l.now().Add(ttl).Unix()
	sig := base64.RawURLEncoding.EncodeToString(l.sign(method, key, contentType, expires))
	return l.baseURL + "/" + escapeKey(key) + "?expires=" + strconv.FormatInt(expires, 10) + "&sig=" + sig
}

// sign is HMAC-SHA256 over the method, key, expiry and (for PUT) content type. Keys and content
// types have no control characters, so the newline-separated message is unambiguous.
func (l *Local) sign(method, key, contentType string, expires int64) []byte {
	m := hmac.New(sha256.New, l.secret)
	_, _ = io.WriteString(m, "mediamesh-objectstore-v1\n"+method+"\n"+key+"\n"+strconv.FormatInt(expires, 10)+"\n"+contentType)
	return m.Sum(nil)
}

// escapeKey percent-encodes each segment of key for a URL path.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
