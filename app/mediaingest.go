package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/internal/serviceauth"
	"github.com/mediamesh/mediamesh/services/ingest"
	"github.com/mediamesh/mediamesh/services/ingest/fetch"
	"github.com/mediamesh/mediamesh/services/media"
)

// secretFile returns the secret kept in data_dir/name, creating it (n random bytes, base64) on
// first use. Embedded mode keeps its generated keys there so they survive restarts.
func (p *platform) secretFile(name string, n int) ([]byte, error) {
	path := filepath.Join(p.cfg.DataDir, name)
	if b, err := os.ReadFile(path); err == nil {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) != n {
			return nil, fmt.Errorf("%s: not the base64 of %d bytes", path, n)
		}
		return key, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, n)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(p.cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// mediaStore opens the media store: S3 when media.s3.endpoint is set, else files under
// data_dir/media.
func (p *platform) mediaStore(ctx context.Context, publicRead func(key string) bool) (objectstore.Store, error) {
	m := p.cfg.Media
	if s := m.S3; s.Endpoint != "" {
		store, err := objectstore.NewS3(ctx, objectstore.S3Config{
			Endpoint: s.Endpoint, PresignEndpoint: s.PresignEndpoint, Region: s.Region, Bucket: s.Bucket,
			AccessKey: s.AccessKey, SecretKey: s.SecretKey, CreateBucket: true,
		})
		if err != nil {
			return nil, err
		}
		if s.PublicReadPolicy {
			p.publicReadPolicy(ctx, store)
		}
		return store, nil
	}
	secret := []byte(m.SigningKey)
	if len(secret) == 0 {
		var err error
		if secret, err = p.secretFile("media-signing.key", 32); err != nil {
			return nil, fmt.Errorf("media signing key: %w", err)
		}
	}
	local, err := objectstore.NewLocal(objectstore.LocalConfig{
		Dir: filepath.Join(p.cfg.DataDir, "media"), BaseURL: m.LocalBaseURL, Secret: secret, PublicRead: publicRead,
	})
	if err != nil {
		return nil, err
	}
	p.localMedia = local
	return local, nil
}

// publicReadPolicy puts the bucket policy statement that lets anyone GET the objects under the
// media service's public prefix, and nothing else. A refusal (AWS Block Public Access, a credential
// without s3:PutBucketPolicy, a service without bucket policies) is logged once, with the statement
// to set by other means (or the CDN origin access to grant instead), and the process goes on: private
// assets stay private either way, only public_url answers 403 until the bucket or the CDN allows it.
func (p *platform) publicReadPolicy(ctx context.Context, store *objectstore.S3) {
	err := store.SetPublicRead(ctx, media.PublicPrefix)
	if err == nil {
		p.log.InfoContext(ctx, "media store: objects under the public prefix are readable by anyone", "bucket", p.cfg.Media.S3.Bucket, "prefix", media.PublicPrefix)
		return
	}
	statement, _ := json.Marshal(objectstore.PublicReadStatement(p.cfg.Media.S3.Bucket, media.PublicPrefix))
	p.log.WarnContext(ctx, "media store: could not put the bucket policy that makes public assets readable; public_url will answer 403 "+
		"until the bucket (or the CDN in front of it) allows anonymous GETs of the public prefix: see deploy/README.md, or set media.s3.public_read_policy=false",
		"bucket", p.cfg.Media.S3.Bucket, "prefix", media.PublicPrefix, "statement", string(statement), "error", err)
}

// buildMedia builds the media service on its store.
func buildMedia(ctx context.Context, p *platform, db *database.DB) (service, error) {
	var svc *media.Service
	// Unsigned reads of the local store are allowed for the bytes of public, ready assets.
	store, err := p.mediaStore(ctx, func(key string) bool { return svc != nil && svc.PublicKey(context.Background(), key) })
	if err != nil {
		return nil, fmt.Errorf("media store: %w", err)
	}
	m := p.cfg.Media
	base := m.PublicBaseURL
	if base == "" {
		base = m.LocalBaseURL
		if m.S3.Endpoint != "" {
			base = strings.TrimRight(firstSet(m.S3.PresignEndpoint, m.S3.Endpoint), "/") + "/" + m.S3.Bucket
		}
	}
	hc, cmsBase, err := p.client(ServiceMedia, ServiceCMS)
	if err != nil {
		return nil, err
	}
	content, err := cmsapi.NewClientWithResponses(cmsBase, cmsapi.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	svc, err = media.New(media.Config{PublicBaseURL: base, UploadSessionTTL: m.UploadSessionTTL, OnContentPurge: m.OnContentPurge, OrphanGrace: m.OrphanGrace},
		media.Deps{Store: store, DB: db, CMS: content, Log: p.log.With("service", ServiceMedia), Registerer: p.reg})
	return svc, err
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// ingestAccountPassword is the password of the ingest service account, when this process needs it:
// the configured one, or a random one for this run when auth and ingest both run here.
func (p *platform) ingestAccountPassword() string {
	if p.ingestPassword == "" {
		p.ingestPassword = p.cfg.Ingest.AccountPassword
		if p.ingestPassword == "" && contains(p.plan.InProcess, ServiceAuth) && contains(p.plan.InProcess, ServiceIngest) {
			b := make([]byte, 24)
			_, _ = rand.Read(b)
			p.ingestPassword = base64.RawURLEncoding.EncodeToString(b)
		}
	}
	return p.ingestPassword
}

// buildIngest builds the ingest service with its fetcher and its clients of the CMS and media
// services, which it calls as the ingest service account.
func buildIngest(_ context.Context, p *platform, db *database.DB) (service, error) {
	in := p.cfg.Ingest
	key, err := base64.StdEncoding.DecodeString(in.CredentialsKey)
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		if key, err = p.secretFile("ingest-credentials.key", 32); err != nil {
			return nil, fmt.Errorf("ingest credentials key: %w", err)
		}
	}
	hc, base, err := p.client(ServiceIngest, ServiceAuth)
	if err != nil {
		return nil, err
	}
	authClient, err := authapi.NewClientWithResponses(base, authapi.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	account := &serviceauth.Account{Auth: authClient, Email: in.AccountEmail, Password: p.ingestAccountPassword()}
	hc, base, err = p.client(ServiceIngest, ServiceCMS)
	if err != nil {
		return nil, err
	}
	cms, err := cmsapi.NewClientWithResponses(base, cmsapi.WithHTTPClient(hc), cmsapi.WithRequestEditorFn(account.Authorize))
	if err != nil {
		return nil, err
	}
	hc, base, err = p.client(ServiceIngest, ServiceMedia)
	if err != nil {
		return nil, err
	}
	mediaClient, err := mediaapi.NewClientWithResponses(base, mediaapi.WithHTTPClient(hc), mediaapi.WithRequestEditorFn(account.Authorize))
	if err != nil {
		return nil, err
	}
	return ingest.New(ingest.Config{CredentialsKey: key, YouTubeBaseURL: in.YouTubeBaseURL, PollInterval: in.PollInterval},
		ingest.Deps{DB: db, CMS: cms, Media: mediaClient, Log: p.log.With("service", ServiceIngest),
			Fetcher: fetch.New(fetch.Config{AllowLoopback: in.AllowLoopback, Timeout: in.FetchTimeout, MaxBytes: int64(in.MaxFetchBytes)})})
}
