package e2e

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
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// TestPublicMediaAll follows a cover image from upload to the public side in embedded mode: the
// upload is stored on local disk, a published program with it as cover shows its cover_url on the
// discovery gateway, the URL serves the image without a signature, and making the asset private
// takes the URL off the public side and refuses the unsigned read.
func TestPublicMediaAll(t *testing.T) {
	cfg := app.Default()
	addr := testenv.FreeAddr(t)
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = addr, "127.0.0.1:0"
	cfg.Media.LocalBaseURL = "http://" + addr + "/media"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "media admin password"
	cfg.Gateway.RateLimits = false
	urls, _, _ := start(t, cfg)
	cms, disc := urls["cms gateway"], urls["discovery gateway"]
	token := login(t, cms, "admin@mediamesh.local", "media admin password")

	// Upload a public cover.
	img := image.NewRGBA(image.Rect(0, 0, 800, 450))
	for x := 0; x < 800; x++ {
		for y := 0; y < 450; y++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var pic bytes.Buffer
	if err := jpeg.Encode(&pic, img, nil); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", "cover.jpg")
	part.Write(pic.Bytes())
	w.WriteField("visibility", "public")
	w.Close()
	req, _ := http.NewRequest("POST", cms+"/api/v1/media/assets", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, out)
	}
	var asset struct {
		ID        string `json:"id"`
		PublicURL string `json:"public_url"`
	}
	_ = json.Unmarshal(out, &asset)

	// A published program with it as cover.
	code, created := call(t, "POST", cms+"/api/v1/cms/programs", token, fmt.Sprintf(`{"kind":"show","title":"Covered","slug":"covered-%d","language":"en","cover_asset_id":%q}`, time.Now().UnixNano(), asset.ID))
	if code != 201 {
		t.Fatalf("create program: %d %s", code, created)
	}
	var prog struct{ ID string }
	_ = json.Unmarshal([]byte(created), &prog)
	if code, out := call(t, "POST", cms+"/api/v1/cms/programs/"+prog.ID+"/publish", token, ""); code != 200 {
		t.Fatalf("publish: %d %s", code, out)
	}
	cover := func() string {
		code, out := call(t, "GET", disc+"/api/v1/discovery/programs/"+prog.ID, "", "")
		if code != 200 {
			return ""
		}
		var p struct {
			CoverURL string `json:"cover_url"`
		}
		_ = json.Unmarshal([]byte(out), &p)
		return p.CoverURL
	}
	waitFor(t, "the cover URL on the public side", func() bool { return cover() == asset.PublicURL && asset.PublicURL != "" })

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type")
	}
	if code, ct := get(asset.PublicURL); code != 200 || ct != "image/jpeg" {
		t.Fatalf("GET the public URL: %d %s", code, ct)
	}

	// Private: off the public side, and the unsigned read is refused.
	if code, out := call(t, "PATCH", cms+"/api/v1/media/assets/"+asset.ID, token, `{"visibility":"private"}`); code != 200 {
		t.Fatalf("make private: %d %s", code, out)
	}
	waitFor(t, "the cover URL to leave the public side", func() bool { return cover() == "" })
	if code, _ := get(asset.PublicURL); code != 403 {
		t.Fatalf("unsigned GET of a private asset: %d, want 403", code)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
