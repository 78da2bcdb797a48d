package objectstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// DefaultS3PartSize is the multipart part size when S3Config.PartSize is zero: 8 MiB.
const DefaultS3PartSize int64 = 8 << 20

// S3Config configures an S3 store.
type S3Config struct {
	// Endpoint is the service URL, e.g. http://127.0.0.1:7070 or https://s3.eu-west-1.amazonaws.com
	// (scheme and host only). Buckets are addressed by path, or by virtual host on AWS and GCS.
	Endpoint string
	// Region signs requests; empty means us-east-1.
	Region string
	// Bucket holds every object of the store.
	Bucket string
	// AccessKey and SecretKey are static credentials (SigV4); both are required, since anonymous
	// credentials cannot presign.
	AccessKey, SecretKey string
	// CreateBucket makes NewS3 create Bucket when it is missing (idempotent).
	CreateBucket bool
	// PresignEndpoint is the URL, scheme and host only, that presigned URLs point at, when clients
	// reach the service at another address than this process does (SigV4 signs the host). Empty
	// means Endpoint.
	PresignEndpoint string
	// PartSize is the part size of multipart uploads, which Put uses for objects larger than it and
	// for every object of unknown size (then the largest object is 10,000 parts). Each such Put
	// buffers up to one part in memory. Zero means DefaultS3PartSize; the minimum is 5 MiB.
	PartSize int64
}

// S3 is a Store in one bucket of an S3-compatible service, through minio-go. Presigned URLs are
// SigV4 query-signed URLs of the service itself; a presigned PUT signs the Content-Type header.
type S3 struct {
	client    *minio.Client
	presigner *minio.Client // client, or one for PresignEndpoint
	probe     *minio.Client // one attempt per request, so Ping answers promptly
	bucket    string
	partSize  uint64
}

var _ Store = (*S3)(nil)

// NewS3 returns an S3 store; with cfg.CreateBucket it also creates the bucket when missing, which
// needs the service to answer. Without it NewS3 does not contact the service: see Ping.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("objectstore: s3: Bucket %q: %w", cfg.Bucket, err)
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("objectstore: s3: AccessKey and SecretKey are required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultS3PartSize
	}
	if partSize < 5<<20 {
		return nil, fmt.Errorf("objectstore: s3: PartSize %d is below the 5 MiB minimum", partSize)
	}
	client, err := newMinio(cfg.Endpoint, cfg, s3Attempts)
	if err != nil {
		return nil, err
	}
	probe, err := newMinio(cfg.Endpoint, cfg, 1)
	if err != nil {
		return nil, err
	}
	presigner := client
	if cfg.PresignEndpoint != "" && cfg.PresignEndpoint != cfg.Endpoint {
		if presigner, err = newMinio(cfg.PresignEndpoint, cfg, s3Attempts); err != nil {
			return nil, err
		}
	}
	s := &S3{client: client, presigner: presigner, probe: probe, bucket: cfg.Bucket, partSize: uint64(partSize)}
	if cfg.CreateBucket {
		if err := s.createBucket(ctx, cfg.Region); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// s3Attempts is how many attempts a request to the service makes: minio-go's default, 10 with
// backoff, kept an upload waiting 3 s for a service that was down before it answered 503, and three
// 1 s; two fail within a few hundred milliseconds, and the client (told Retry-After) retries.
const s3Attempts = 2

// newMinio returns a client for endpoint that makes up to maxRetries attempts per request (0:
// minio-go's default, 10). The region is fixed, so presigning never asks the service for the
// bucket's location.
func newMinio(endpoint string, cfg S3Config, maxRetries int) (*minio.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("objectstore: s3: endpoint %q must be http(s)://host[:port]", endpoint)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     u.Scheme == "https",
		Region:     cfg.Region,
		MaxRetries: maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("objectstore: s3: %w", err)
	}
	return c, nil
}

func (s *S3) createBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("objectstore: s3: bucket %q: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
		return fmt.Errorf("objectstore: s3: create bucket %q: %w", s.bucket, err)
	}
	return nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	ct, err := checkPut("s3", key, size, contentType)
	if err != nil {
		return err
	}
	opts := minio.PutObjectOptions{ContentType: ct, PartSize: s.partSize}
	if _, err := s.client.PutObject(ctx, s.bucket, key, r, size, opts); err != nil {
		return fmt.Errorf("objectstore: s3: put %q: %w", key, err)
	}
	return nil
}

// Open implements Store. The first request is sent before Open returns, so an absent object is
// ErrNotFound here rather than on the first Read.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat()
	}
	if err != nil {
		if obj != nil {
			_ = obj.Close()
		}
		return nil, s3Error("open", key, err)
	}
	return obj, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s3Error("stat", key, err)
	}
	return Info{Key: key, Size: oi.Size, ContentType: oi.ContentType, ModTime: oi.LastModified, ETag: oi.ETag}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("objectstore: s3: delete %q: %w", key, err)
	}
	return nil
}

// Move implements Store with a server-side copy, then the removal of src.
func (s *S3) Move(ctx context.Context, src, dst string) error {
	if err := s.Copy(ctx, src, dst); err != nil {
		return err
	}
	if src == dst {
		return nil
	}
	return s.Delete(ctx, src)
}

// Copy implements Store with a server-side copy (CopyObject: up to 5 GiB, the largest object the
// media service stores), which keeps the content type.
func (s *S3) Copy(ctx context.Context, src, dst string) error {
	for _, k := range []string{src, dst} {
		if err := ValidateKey(k); err != nil {
			return err
		}
	}
	if src == dst {
		_, err := s.Stat(ctx, src)
		return err
	}
	_, err := s.client.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.bucket, Object: dst}, minio.CopySrcOptions{Bucket: s.bucket, Object: src})
	if err != nil {
		return s3Error("copy", src, err)
	}
	return nil
}

// s3Error maps NoSuchKey to ErrNotFound.
func s3Error(op, key string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return fmt.Errorf("objectstore: s3: %s %q: %w", op, key, err)
}

// PresignPut implements Store with a SigV4 presigned PUT whose signed headers include
// Content-Type, so the service refuses the upload under any other content type.
func (s *S3) PresignPut(ctx context.Context, key, contentType string, ttl time.Duration) (string, map[string]string, error) {
	if err := checkPresignPut(key, contentType, ttl); err != nil {
		return "", nil, err
	}
	u, err := s.presigner.PresignHeader(ctx, http.MethodPut, s.bucket, key, ttl, nil,
		http.Header{"Content-Type": {contentType}})
	if err != nil {
		return "", nil, fmt.Errorf("objectstore: s3: presign put %q: %w", key, err)
	}
	return u.String(), map[string]string{"Content-Type": contentType}, nil
}

// PresignGet implements Store.
func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if err := checkTTL(ttl); err != nil {
		return "", err
	}
	u, err := s.presigner.PresignedGetObject(ctx, s.bucket, key, ttl, nil)
	if err != nil {
		return "", fmt.Errorf("objectstore: s3: presign get %q: %w", key, err)
	}
	return u.String(), nil
}

// Ping implements Store: the service answers, accepts the credentials and has the bucket. It makes
// one attempt, without minio-go's retries.
func (s *S3) Ping(ctx context.Context) error {
	ok, err := s.probe.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("objectstore: s3: %w", err)
	}
	if !ok {
		return fmt.Errorf("objectstore: s3: bucket %q does not exist", s.bucket)
	}
	return nil
}

// PublicReadSid is the Sid of the bucket policy statement that SetPublicRead manages.
const PublicReadSid = "MediaMeshPublicRead"

// PublicReadStatement is the bucket policy statement that lets anyone (Principal "*") read, with
// s3:GetObject, exactly the objects of bucket under prefix: "arn:aws:s3:::<bucket>/<prefix>*".
func PublicReadStatement(bucket, prefix string) map[string]any {
	return map[string]any{
		"Sid": PublicReadSid, "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
		"Resource": "arn:aws:s3:::" + bucket + "/" + prefix + "*",
	}
}

// checkPrefix refuses a prefix that a policy resource cannot name exactly: it must be a valid key
// followed by "/", without the policy wildcards * and ?.
func checkPrefix(prefix string) error {
	if !strings.HasSuffix(prefix, "/") || strings.ContainsAny(prefix, "*?") {
		return fmt.Errorf("objectstore: s3: public prefix %q must end with / and have no * or ?", prefix)
	}
	return ValidateKey(strings.TrimSuffix(prefix, "/"))
}

// SetPublicRead makes the objects under prefix (e.g. "public/") readable by anyone without
// credentials, and nothing else: it puts PublicReadStatement into the bucket's policy, replacing
// an earlier statement with the same Sid and keeping every other statement. A policy that is
// already right is left alone (no PutBucketPolicy). The service may refuse (AWS "Block Public
// Access", missing s3:PutBucketPolicy permission): the error says so, and the caller decides.
func (s *S3) SetPublicRead(ctx context.Context, prefix string) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	current, err := s.client.GetBucketPolicy(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("objectstore: s3: read the policy of bucket %q: %w", s.bucket, err)
	}
	doc := map[string]any{"Version": "2012-10-17"}
	if strings.TrimSpace(current) != "" {
		if err := json.Unmarshal([]byte(current), &doc); err != nil {
			return fmt.Errorf("objectstore: s3: the policy of bucket %q is not JSON; not changing it: %w", s.bucket, err)
		}
	}
	var statements []any
	switch st := doc["Statement"].(type) {
	case nil:
	case []any:
		statements = st
	case map[string]any: // a policy may have a single statement as an object
		statements = []any{st}
	default:
		return fmt.Errorf("objectstore: s3: the policy of bucket %q has a malformed Statement; not changing it", s.bucket)
	}
	want := PublicReadStatement(s.bucket, prefix)
	kept := make([]any, 0, len(statements)+1)
	found := false
	for _, st := range statements {
		if m, ok := st.(map[string]any); ok && m["Sid"] == PublicReadSid {
			found = found || reflect.DeepEqual(m, want)
			continue
		}
		kept = append(kept, st)
	}
	if found && len(kept) == len(statements)-1 {
		return nil // exactly one statement of ours, already right
	}
	doc["Statement"] = append(kept, want)
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("objectstore: s3: %w", err)
	}
	if err := s.client.SetBucketPolicy(ctx, s.bucket, string(b)); err != nil {
		return fmt.Errorf("objectstore: s3: put the policy of bucket %q: %w", s.bucket, err)
	}
	return nil
}
