package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/internal/objectstore/objectstoretest"
	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/ingest/feed/feedtest"
	"github.com/mediamesh/mediamesh/services/media"
)

// TestIngestSplit ingests a realistic podcast feed and a YouTube channel end to end with every
// service in a process of its own on PostgreSQL, Kafka and an S3-compatible store (VersityGW): the
// items become draft episodes of new draft programs, with covers and thumbnails stored in S3.
// Running the sources again creates no duplicates, and a source pointing at the cloud metadata
// address fails its run without a request being made.
func TestIngestSplit(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	s3 := objectstoretest.StartVersity(t)
	feeds := feedtest.FeedServer(t)
	youtube := feedtest.YouTubeServer(t, feedtest.APIKey)

	base := app.Default()
	base.Kafka.Brokers = strings.Split(brokers, ",")
	base.Auth.AdminPassword = "split ingest admin password"
	base.Auth.AdminEmail = fmt.Sprintf("admin-%d@ingest.test", time.Now().UnixNano())
	base.Gateway.RateLimits = false
	base.Ingest.AccountPassword = "split ingest account password"
	base.Ingest.AccountEmail = fmt.Sprintf("ingest-%d@ingest.test", time.Now().UnixNano())
	base.Ingest.CredentialsKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	base.Ingest.AllowLoopback = true // the fixture servers listen on loopback; everything else private stays refused
	base.Ingest.YouTubeBaseURL = youtube.URL + feedtest.YouTubeAPIPath
	base.Ingest.PollInterval = 200 * time.Millisecond
	base.Media.S3 = media.S3Settings{Endpoint: s3.Endpoint, Region: s3.Region, Bucket: s3.Bucket, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey}
	urls := startSplit(t, base, []string{app.ServiceAuth, app.ServiceMetadata, app.ServiceCMS, app.ServiceMedia, app.ServiceIngest}, app.GatewayCMS)
	cms := urls["cms gateway"]
	token := login(t, cms, base.Auth.AdminEmail, base.Auth.AdminPassword)
	store, err := objectstore.NewS3(context.Background(), objectstore.S3Config{Endpoint: s3.Endpoint, Region: s3.Region, Bucket: s3.Bucket, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string, out any) {
		t.Helper()
		code, body := call(t, "GET", cms+path, token, "")
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatal(err)
		}
	}

	// Both sources are created enabled, so the scheduler runs them at once.
	podcast := createSource(t, cms, token, map[string]any{
		"name": "Sabah podcast", "type": "rss", "url": feeds.URL + "/podcast.xml",
		"target": map[string]any{"default_kind": "podcast", "default_language": "ar"},
	})
	channel := createSource(t, cms, token, map[string]any{
		"name": "Horizon on YouTube", "type": "youtube", "url": "https://www.youtube.com/channel/" + feedtest.YouTubeChannelID,
		"youtube":     map[string]any{"channel_id": feedtest.YouTubeChannelID},
		"credentials": map[string]any{"api_key": feedtest.APIKey},
		"target":      map[string]any{"default_kind": "show", "default_language": "en"},
	})
	var src struct {
		HasCredentials bool           `json:"has_credentials"`
		Credentials    map[string]any `json:"credentials"`
	}
	get("/api/v1/ingest/sources/"+channel, &src)
	if !src.HasCredentials || src.Credentials != nil {
		t.Fatalf("source credentials: has=%v returned=%v", src.HasCredentials, src.Credentials)
	}

	first := waitRun(t, cms, token, podcast, 1)
	if first.Status != "partial" || first.ItemsSeen != 6 || first.ItemsCreated != 5 || first.ItemsFailed != 1 || first.Errors[0].Code != "invalid_media_url" {
		t.Fatalf("first podcast run: %+v", first)
	}
	yt := waitRun(t, cms, token, channel, 1)
	if yt.Status != "partial" || yt.ItemsSeen != 7 || yt.ItemsCreated != 5 || yt.ItemsFailed != 2 {
		t.Fatalf("first YouTube run: %+v", yt)
	}

	// The drafts: one program per source with its cover, one episode per item with its thumbnail,
	// every image in S3 with its renditions.
	var list struct {
		Items []struct {
			ID, Title    string
			CoverAssetID *string `json:"cover_asset_id"`
		} `json:"items"`
	}
	get("/api/v1/cms/programs?status=draft&limit=100", &list)
	var podcastProgram, ytProgram string
	for _, p := range list.Items {
		switch p.Title {
		case "صباح | Sabah":
			podcastProgram = p.ID
		case "أكاديمية الأفق | Horizon Academy":
			ytProgram = p.ID
		default:
			continue
		}
		if p.CoverAssetID == nil {
			t.Fatalf("program %q has no cover", p.Title)
		}
		checkAssetInS3(t, cms, token, store, *p.CoverAssetID)
	}
	if podcastProgram == "" || ytProgram == "" {
		t.Fatalf("programs created: %+v", list.Items)
	}
	for _, pid := range []string{podcastProgram, ytProgram} {
		eps := episodes(t, cms, token, pid)
		if len(eps) != 5 {
			t.Fatalf("program %s has %d episodes, want 5", pid, len(eps))
		}
		withThumb := 0
		for _, e := range eps {
			if e.Status != "draft" {
				t.Fatalf("episode %q is %s, not a draft", e.Title, e.Status)
			}
			if e.ThumbnailAssetID != nil {
				withThumb++
				checkAssetInS3(t, cms, token, store, *e.ThumbnailAssetID)
			}
		}
		if withThumb == 0 {
			t.Fatalf("no episode of program %s has a thumbnail", pid)
		}
	}

	// Again: the feed answers 304, so nothing is processed; a full refresh reads every item and
	// finds each already ingested and unchanged; YouTube has no validators and skips them too.
	rerun(t, cms, token, podcast, false)
	if r := waitRun(t, cms, token, podcast, 2); r.Status != "succeeded" || !r.NotModified || r.ItemsCreated != 0 {
		t.Fatalf("conditional rerun: %+v", r)
	}
	rerun(t, cms, token, podcast, true)
	if r := waitRun(t, cms, token, podcast, 3); r.ItemsCreated != 0 || r.ItemsUpdated != 0 || r.ItemsSkipped != 5 || r.NotModified {
		t.Fatalf("full refresh: %+v", r)
	}
	rerun(t, cms, token, channel, false)
	if r := waitRun(t, cms, token, channel, 2); r.ItemsCreated != 0 || r.ItemsSkipped != 5 {
		t.Fatalf("YouTube rerun: %+v", r)
	}
	for _, pid := range []string{podcastProgram, ytProgram} {
		if n := len(episodes(t, cms, token, pid)); n != 5 {
			t.Fatalf("after the reruns program %s has %d episodes, want 5", pid, n)
		}
	}

	// SSRF: the cloud metadata address is refused even though loopback is allowed here, when the
	// source is created (the fetcher refuses it again at every run; see services/ingest/fetch).
	b, _ := json.Marshal(map[string]any{
		"name": "metadata", "type": "rss", "url": "http://169.254.169.254/latest/meta-data/",
		"target": map[string]any{"default_kind": "podcast", "default_language": "en"},
	})
	if code, out := call(t, "POST", cms+"/api/v1/ingest/sources", token, string(b)); code != 422 ||
		!strings.Contains(out, `"field":"url"`) || !strings.Contains(out, "link-local address") {
		t.Fatalf("a source at the metadata address: %d %s, want 422 naming url", code, out)
	}
}

type ingestRun struct {
	Status                                                           string
	ItemsSeen, ItemsCreated, ItemsUpdated, ItemsSkipped, ItemsFailed int
	NotModified                                                      bool `json:"not_modified"`
	Message                                                          *string
	Errors                                                           []struct{ Code, Message string }
}

func (r *ingestRun) UnmarshalJSON(b []byte) error {
	var raw struct {
		Status       string                           `json:"status"`
		ItemsSeen    int                              `json:"items_seen"`
		ItemsCreated int                              `json:"items_created"`
		ItemsUpdated int                              `json:"items_updated"`
		ItemsSkipped int                              `json:"items_skipped"`
		ItemsFailed  int                              `json:"items_failed"`
		NotModified  bool                             `json:"not_modified"`
		Message      *string                          `json:"message"`
		Errors       []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*r = ingestRun{raw.Status, raw.ItemsSeen, raw.ItemsCreated, raw.ItemsUpdated, raw.ItemsSkipped, raw.ItemsFailed, raw.NotModified, raw.Message, raw.Errors}
	return nil
}

func createSource(t *testing.T, cms, token string, body map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(body)
	code, out := call(t, "POST", cms+"/api/v1/ingest/sources", token, string(b))
	if code != 201 {
		t.Fatalf("create source: %d %s", code, out)
	}
	var s struct{ ID string }
	_ = json.Unmarshal([]byte(out), &s)
	return s.ID
}

func rerun(t *testing.T, cms, token, source string, full bool) {
	t.Helper()
	code, out := call(t, "POST", cms+"/api/v1/ingest/sources/"+source+"/runs", token, fmt.Sprintf(`{"full_refresh":%v}`, full))
	if code != 202 {
		t.Fatalf("trigger a run: %d %s", code, out)
	}
}

// waitRun waits until source has n finished runs and returns the newest.
func waitRun(t *testing.T, cms, token, source string, n int) ingestRun {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		code, out := call(t, "GET", cms+"/api/v1/ingest/sources/"+source+"/runs?limit=100", token, "")
		if code != 200 {
			t.Fatalf("list runs: %d %s", code, out)
		}
		var page struct{ Items []ingestRun }
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, r := range page.Items {
			if r.Status != "queued" && r.Status != "running" {
				done++
			}
		}
		if done >= n && page.Items[0].Status != "queued" && page.Items[0].Status != "running" {
			return page.Items[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("source %s: no %d finished runs within 60s", source, n)
	return ingestRun{}
}

type episode struct {
	Title, Status    string
	ThumbnailAssetID *string `json:"thumbnail_asset_id"`
}

func episodes(t *testing.T, cms, token, program string) []episode {
	t.Helper()
	code, out := call(t, "GET", cms+"/api/v1/cms/programs/"+program+"/episodes?limit=100", token, "")
	if code != 200 {
		t.Fatalf("list episodes: %d %s", code, out)
	}
	var page struct{ Items []episode }
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatal(err)
	}
	return page.Items
}

// checkAssetInS3 checks that asset id is a ready public image whose original and thumbnails are
// objects in the S3 store (waiting for the thumbnail worker).
func checkAssetInS3(t *testing.T, cms, token string, store objectstore.Store, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out := call(t, "GET", cms+"/api/v1/media/assets/"+url.PathEscape(id), token, "")
		if code != 200 {
			t.Fatalf("asset %s: %d %s", id, code, out)
		}
		var a struct {
			Kind, Status, Visibility string
			StorageKey               string `json:"storage_key"`
			Thumbnails               []struct {
				StorageKey string `json:"storage_key"`
			}
		}
		_ = json.Unmarshal([]byte(out), &a)
		if a.Kind != "image" || a.Status != "ready" || a.Visibility != "public" {
			t.Fatalf("asset %s: %s", id, out)
		}
		if len(a.Thumbnails) > 0 {
			for _, k := range append([]string{a.StorageKey}, func() (ks []string) {
				for _, th := range a.Thumbnails {
					ks = append(ks, th.StorageKey)
				}
				return
			}()...) {
				if _, err := store.Stat(context.Background(), k); err != nil {
					t.Fatalf("asset %s: object %s: %v", id, k, err)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("asset %s has no thumbnails after 30s: %s", id, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
