// Package objectstore keeps media objects (originals, renditions) behind one interface, Store, with
// two implementations that share one conformance test suite: Local, files on disk for the embedded
// mode, which serves its own presigned URLs through Local.Handler; and S3, any S3-compatible service
// through minio-go, which presigns with SigV4.
//
// Reads of private objects go through presigned URLs only. Public objects are kept under a key
// prefix of their own that the store lets anyone read: S3.SetPublicRead puts a bucket policy
// statement that grants s3:GetObject on that prefix alone; Local serves the keys its
// LocalConfig.PublicRead accepts without a signature.
//
// Clients upload and download media directly with presigned URLs: the media service decides what
// may be stored under which key and with which content type, and hands out a PUT URL that carries
// exactly that decision. Neither backend can cap the size of a presigned S3 upload, so the service
// should Stat the object after the client reports the upload done.
package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound is returned (possibly wrapped) by Open and Stat for a key that holds no object.
var ErrNotFound = errors.New("objectstore: object not found")

// ErrInvalidKey is returned (wrapped, with the reason) for a key that ValidateKey refuses.
var ErrInvalidKey = errors.New("objectstore: invalid key")

// MaxKeyLen is the longest key in bytes (S3's limit).
const MaxKeyLen = 1024

// MaxPresignTTL is the longest lifetime of a presigned URL (S3's SigV4 limit); the shortest is one
// second.
const MaxPresignTTL = 7 * 24 * time.Hour

// DefaultContentType is stored by Put when it is given no content type.
const DefaultContentType = "application/octet-stream"

// Info describes a stored object.
type Info struct {
	Key         string
	Size        int64
	ContentType string
	ModTime     time.Time
	// ETag is an opaque tag that changes when the object is overwritten (unquoted). S3 gives the
	// MD5 of a single-part upload, or an MD5 of the parts' MD5s followed by "-<parts>".
	ETag string
}

// Store keeps objects under slash-separated keys such as "public/assets/<uuid>/original.jpg" (see
// ValidateKey). Implementations are safe for concurrent use.
type Store interface {
	// Put stores size bytes from r under key (size -1 = unknown: r is read to EOF). Overwrites.
	// An empty contentType stores DefaultContentType.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Open streams the object; ErrNotFound when absent.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes the object; ErrNotFound when absent.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Move puts the object at src under dst (overwriting) and removes src: what dst then holds is
	// what src held when Move read it, whatever is written to src afterwards. ErrNotFound when src
	// is absent.
	Move(ctx context.Context, src, dst string) error
	// Copy puts the object at src, with its content type, under dst too (overwriting); src stays.
	// A reader of dst sees the old object or the whole copy, never a part. ErrNotFound when src is
	// absent. Copying a key onto itself only checks that it exists.
	Copy(ctx context.Context, src, dst string) error
	// PresignPut returns a URL (and the exact headers the client must send) to upload the object
	// with one HTTP PUT until ttl passes. contentType is enforced (the PUT must carry it).
	PresignPut(ctx context.Context, key, contentType string, ttl time.Duration) (url string, headers map[string]string, err error)
	// PresignGet returns a URL that reads the object until ttl passes.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
}

// ValidateKey reports whether key is acceptable to every backend: a relative, slash-separated path
// of valid UTF-8, at most MaxKeyLen bytes, whose segments are neither empty, "." nor "..", with no
// backslash and no control character (NUL included). The error wraps ErrInvalidKey.
func ValidateKey(key string) error {
	bad := func(reason string) error { return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason) }
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxKeyLen))
	case !utf8.ValidString(key):
		return bad("not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return bad("absolute")
	case strings.ContainsRune(key, '\\'):
		return bad("contains a backslash")
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return bad("contains a control character")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return bad("empty path segment")
		case ".", "..":
			return bad("dot segment")
		}
	}
	return nil
}

// checkTTL refuses presigned URL lifetimes outside [1s, MaxPresignTTL].
func checkTTL(ttl time.Duration) error {
	if ttl < time.Second || ttl > MaxPresignTTL {
		return fmt.Errorf("objectstore: presign ttl %s outside [1s, %s]", ttl, MaxPresignTTL)
	}
	return nil
}

// checkContentType refuses a content type that is not a parseable media type of at most 255 bytes
// without control characters (it travels in HTTP headers and is part of signatures).
func checkContentType(ct string) error {
	if len(ct) > 255 || strings.ContainsFunc(ct, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return fmt.Errorf("objectstore: content type %q: too long or has control characters", ct)
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return fmt.Errorf("objectstore: content type %q: %w", ct, err)
	}
	return nil
}

// putContentType returns the content type Put stores for ct, or an error if ct is malformed.
func putContentType(ct string) (string, error) {
	if ct == "" {
		return DefaultContentType, nil
	}
	return ct, checkContentType(ct)
}

// checkPut checks the arguments of Put of backend (local, s3) and returns the content type to
// store: a valid key, a size of -1 (unknown) or more, and putContentType's type.
func checkPut(backend, key string, size int64, contentType string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	ct, err := putContentType(contentType)
	if err != nil {
		return "", err
	}
	if size < -1 {
		return "", fmt.Errorf("objectstore: %s: put %q: negative size %d", backend, key, size)
	}
	return ct, nil
}

// checkPresignPut checks the arguments of PresignPut: a valid key and TTL and a content type.
func checkPresignPut(key, contentType string, ttl time.Duration) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if contentType == "" {
		return errors.New("objectstore: presign put: content type is required")
	}
	return checkContentType(contentType)
}
