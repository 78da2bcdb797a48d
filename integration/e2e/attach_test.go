package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// uploadWith posts a multipart upload of a JPEG to the CMS gateway's uploadAsset with the fields,
// authenticated by the header (name, value), and returns the status and body.
func uploadWith(t *testing.T, cms, header, value string, fields map[string]string) (int, string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 160, 90))
	for x := range 160 {
		for y := range 90 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 40, 255})
		}
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, err := w.CreateFormFile("file", "cover.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(part, img, nil); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", cms+"/api/v1/media/assets", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// attachAtUpload checks an upload's attach_as through the gateways: an EDITOR's upload becomes a
// published program's cover and an episode's thumbnail, made in the CMS by the editor (updated_by),
// and the public side shows the new cover; an upload naming a program that does not exist, or made
// with an API key that may upload but not change content, is refused and stores nothing; a USER
// cannot upload at all.
func attachAtUpload(t *testing.T, cms, disc, admin, unique string, sessions bool) {
	// A published program with a published episode.
	code, out := call(t, "POST", cms+"/api/v1/cms/programs", admin, fmt.Sprintf(`{"kind":"show","title":"Attached","slug":"attached-%s","language":"en"}`, unique))
	if code != 201 {
		t.Fatalf("create the program: %d %s", code, out)
	}
	var program struct{ ID string }
	_ = json.Unmarshal([]byte(out), &program)
	code, out = call(t, "POST", cms+"/api/v1/cms/programs/"+program.ID+"/episodes", admin, `{"episode_number":1,"title":"First","language":"en"}`)
	if code != 201 {
		t.Fatalf("create the episode: %d %s", code, out)
	}
	var episode struct{ ID string }
	_ = json.Unmarshal([]byte(out), &episode)
	if code, out := call(t, "POST", cms+"/api/v1/cms/programs/"+program.ID+"/publish?with_episodes=true", admin, ""); code != 200 {
		t.Fatalf("publish: %d %s", code, out)
	}

	// An editor and a user.
	people := map[string]string{}
	for _, role := range []string{"EDITOR", "USER"} {
		email := fmt.Sprintf("%s-%s@attach.test", strings.ToLower(role), unique)
		code, out := call(t, "POST", cms+"/api/v1/auth/users", admin, fmt.Sprintf(`{"email":%q,"password":"Str0ng-and-long-passphrase","display_name":"Attach %s","roles":[%q]}`, email, role, role))
		if code != 201 {
			t.Fatalf("create the %s: %d %s", role, code, out)
		}
		var u struct{ ID string }
		_ = json.Unmarshal([]byte(out), &u)
		people[role] = u.ID
		people[role+" token"] = login(t, cms, email, "Str0ng-and-long-passphrase")
	}
	editor := "Bearer " + people["EDITOR token"]

	// The editor's upload becomes the program's cover.
	code, out = uploadWith(t, cms, "Authorization", editor, map[string]string{
		"visibility": "public", "attach_content_type": "program", "attach_content_id": program.ID, "attach_as": "cover"})
	if code != 201 {
		t.Fatalf("upload a cover: %d %s", code, out)
	}
	var cover struct {
		ID        string `json:"id"`
		PublicURL string `json:"public_url"`
	}
	_ = json.Unmarshal([]byte(out), &cover)
	code, out = call(t, "GET", cms+"/api/v1/cms/programs/"+program.ID, admin, "")
	var p struct {
		CoverAssetID string `json:"cover_asset_id"`
		UpdatedBy    string `json:"updated_by"`
	}
	if err := json.Unmarshal([]byte(out), &p); code != 200 || err != nil {
		t.Fatalf("read the program: %d %s", code, out)
	}
	if p.CoverAssetID != cover.ID || p.UpdatedBy != people["EDITOR"] {
		t.Fatalf("the program's cover is %q updated by %q, want %s by the editor %s", p.CoverAssetID, p.UpdatedBy, cover.ID, people["EDITOR"])
	}
	waitFor(t, "the new cover on the public side", func() bool {
		code, out := call(t, "GET", disc+"/api/v1/discovery/programs/"+program.ID, "", "")
		var p struct {
			CoverURL string `json:"cover_url"`
		}
		_ = json.Unmarshal([]byte(out), &p)
		return code == 200 && cover.PublicURL != "" && p.CoverURL == cover.PublicURL
	})

	// And an episode's thumbnail.
	code, out = uploadWith(t, cms, "Authorization", editor, map[string]string{
		"attach_content_type": "episode", "attach_content_id": episode.ID, "attach_as": "thumbnail"})
	if code != 201 {
		t.Fatalf("upload a thumbnail: %d %s", code, out)
	}
	var thumb struct{ ID string }
	_ = json.Unmarshal([]byte(out), &thumb)
	code, out = call(t, "GET", cms+"/api/v1/cms/episodes/"+episode.ID, admin, "")
	var e struct {
		ThumbnailAssetID string `json:"thumbnail_asset_id"`
	}
	if err := json.Unmarshal([]byte(out), &e); code != 200 || err != nil || e.ThumbnailAssetID != thumb.ID {
		t.Fatalf("the episode's thumbnail: %d %s, want %s", code, out, thumb.ID)
	}

	// An upload session made the episode's media: set when it is completed.
	if sessions {
		wav := append([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x44\xac\x00\x00\x88\x58\x01\x00\x02\x00\x10\x00data\x00\x00\x00\x00"), make([]byte, 8192)...)
		sum := sha256.Sum256(wav)
		code, out = callWith3(t, "POST", cms+"/api/v1/media/uploads", editor, fmt.Sprintf(`{"filename":"first.wav","content_type":"audio/wav","size_bytes":%d,"checksum_sha256":%q,"attached_to":{"content_type":"episode","content_id":%q},"attach_as":"media"}`,
			len(wav), hex.EncodeToString(sum[:]), episode.ID))
		if code != 201 {
			t.Fatalf("open an upload session: %d %s", code, out)
		}
		var session struct {
			AssetID   string            `json:"asset_id"`
			UploadURL string            `json:"upload_url"`
			Headers   map[string]string `json:"headers"`
		}
		_ = json.Unmarshal([]byte(out), &session)
		req, err := http.NewRequest("PUT", session.UploadURL, bytes.NewReader(wav))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range session.Headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("PUT the upload: %d", resp.StatusCode)
		}
		if code, out := callWith3(t, "POST", cms+"/api/v1/media/uploads/"+session.AssetID+"/complete", editor, ""); code != 200 {
			t.Fatalf("complete the upload: %d %s", code, out)
		}
		code, out = call(t, "GET", cms+"/api/v1/cms/episodes/"+episode.ID, admin, "")
		var e struct {
			MediaAssetID string `json:"media_asset_id"`
		}
		if err := json.Unmarshal([]byte(out), &e); code != 200 || err != nil || e.MediaAssetID != session.AssetID {
			t.Fatalf("the episode's media: %d %s, want %s", code, out, session.AssetID)
		}
	}

	// Refused, and nothing stored: a program that does not exist (422 naming attach_content_id),
	// an API key that may upload but not change content (403, the CMS's refusal), a USER (403).
	missing := uuid.NewString()
	code, out = uploadWith(t, cms, "Authorization", editor, map[string]string{
		"attach_content_type": "program", "attach_content_id": missing, "attach_as": "cover"})
	if code != 422 || !strings.Contains(out, `"field":"attach_content_id"`) {
		t.Fatalf("upload as the cover of a missing program: %d %s", code, out)
	}
	code, out = call(t, "POST", cms+"/api/v1/auth/api-keys", admin, `{"name":"Uploads only","scopes":["media:write","content:read"]}`)
	if code != 201 {
		t.Fatalf("create the key: %d %s", code, out)
	}
	var key struct{ Key string }
	_ = json.Unmarshal([]byte(out), &key)
	code, out = uploadWith(t, cms, "X-API-Key", key.Key, map[string]string{
		"attach_content_type": "program", "attach_content_id": program.ID, "attach_as": "cover"})
	if code != 403 {
		t.Fatalf("upload as a cover with a key that cannot change content: %d %s", code, out)
	}
	if code, out := uploadWith(t, cms, "Authorization", "Bearer "+people["USER token"], map[string]string{
		"attach_content_type": "program", "attach_content_id": program.ID, "attach_as": "cover"}); code != 403 {
		t.Fatalf("a USER's upload: %d %s", code, out)
	}
	for _, content := range []string{program.ID, missing} {
		code, out := call(t, "GET", cms+"/api/v1/media/assets?content_id="+content, admin, "")
		var l struct {
			Items []struct{ ID string }
		}
		_ = json.Unmarshal([]byte(out), &l)
		if code != 200 || len(l.Items) != 1 && content == program.ID || len(l.Items) != 0 && content == missing {
			t.Fatalf("the assets of %s: %d %s", content, code, out)
		}
	}
	code, out = call(t, "GET", cms+"/api/v1/cms/programs/"+program.ID, admin, "")
	if err := json.Unmarshal([]byte(out), &p); code != 200 || err != nil || p.CoverAssetID != cover.ID {
		t.Fatalf("the program after the refused uploads: %d %s", code, out)
	}
}

// callWith3 is call with a full Authorization header value (a bearer token or an API key).
func callWith3(t *testing.T, method, url, authorization, body string) (int, string) {
	t.Helper()
	code, out, _ := callWith(t, method, url, "", body, "Authorization", authorization)
	return code, out
}

// TestAttachAtUploadAll runs attachAtUpload against `--target=all` on embedded defaults, upload
// sessions included (the local store's pre-signed URLs are served by the discovery gateway).
func TestAttachAtUploadAll(t *testing.T) {
	cfg := app.Default()
	addr := testenv.FreeAddr(t)
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = addr, "127.0.0.1:0"
	cfg.Media.LocalBaseURL = "http://" + addr + "/media"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "attach admin password"
	cfg.Gateway.RateLimits = false
	urls, _, _ := start(t, cfg)
	admin := login(t, urls["cms gateway"], "admin@mediamesh.local", "attach admin password")
	attachAtUpload(t, urls["cms gateway"], urls["discovery gateway"], admin, fmt.Sprint(time.Now().UnixNano()), true)
}

// TestAttachAtUploadSplit runs attachAtUpload with every service in a process of its own, on
// PostgreSQL, events over Kafka: the media service reaches the CMS at its URL, and the CMS the
// media service at its own to check the asset it is given.
func TestAttachAtUploadSplit(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	redisURL := testenv.Get(t, "MEDIAMESH_TEST_REDIS_URL", "a Redis server, e.g. redis://127.0.0.1:6379/0")
	base := app.Default()
	base.Kafka.Brokers = strings.Split(brokers, ",")
	base.Redis.URL = redisURL
	base.Auth.AdminPassword = "split attach admin password"
	base.Auth.AdminEmail = fmt.Sprintf("admin-%d@attach.test", time.Now().UnixNano())
	base.Gateway.RateLimits = false
	base.Ingest.AccountPassword = "split ingest account password"
	base.Ingest.CredentialsKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	urls := startSplit(t, base, []string{app.ServiceAuth, app.ServiceMetadata, app.ServiceCMS, app.ServiceDiscovery, app.ServiceSearch, app.ServiceMedia, app.ServiceIngest}, app.GatewayDiscovery, app.GatewayCMS)
	admin := login(t, urls["cms gateway"], base.Auth.AdminEmail, base.Auth.AdminPassword)
	attachAtUpload(t, urls["cms gateway"], urls["discovery gateway"], admin, fmt.Sprint(time.Now().UnixNano()), false)
}
