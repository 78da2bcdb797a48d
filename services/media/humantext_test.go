package media

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/internal/humantext/humantexttest"
)

// TestHumanText: alt text follows the one rule for multi-line human text (internal/humantext) on
// every way in (a patch, an upload session, a multipart upload) and in the handlers themselves:
// only invisible or space characters, or a control character (U+0017 used to pass), is a 422
// naming alt_text; an empty alt text (a decorative image) and text with invisible characters inside
// words are kept as sent.
func TestHumanText(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		a := f.uploadImage(jpegBytes(t, 64, 32))
		data := mp4Bytes(2048)
		ways := map[string]func(v string) *response{
			"updateAsset": func(v string) *response {
				return f.do(http.MethodPatch, assetPath(a.Id), "editor", map[string]any{"alt_text": v})
			},
			"createUploadSession": func(v string) *response {
				return f.do(http.MethodPost, "/api/v1/media/uploads", "editor", map[string]any{
					"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": len(data), "checksum_sha256": sum(data), "alt_text": v,
				})
			},
			"uploadAsset": func(v string) *response {
				return f.upload("editor", filePart("picture.jpg", "image/jpeg", jpegBytes(t, 8, 8)), field("alt_text", v))
			},
		}
		for name, send := range ways {
			for code, texts := range map[string][]string{
				humantext.CodeBlank:            append(humantexttest.Blank, " \r\n\t"),
				humantext.CodeInvalidCharacter: humantexttest.Control,
			} {
				for _, v := range texts {
					p := send(v).fails(t, http.StatusUnprocessableEntity, "alt_text")
					if len(p.Errors) != 1 || p.Errors[0].Code != code {
						t.Errorf("%s %q: %+v, want %s", name, v, p, code)
					}
				}
			}
		}
		if l := f.list(""); len(l.Items) != 1 {
			t.Fatalf("refused writes left %d assets", len(l.Items))
		}

		for name, send := range ways {
			for _, v := range append(humantexttest.Valid, humantexttest.Multiline, "") {
				var got struct {
					ID      uuid.UUID `json:"id"`
					AssetID uuid.UUID `json:"asset_id"` // of an upload session
				}
				r := send(v)
				if r.code != http.StatusOK && r.code != http.StatusCreated {
					t.Fatalf("%s %q: %d %s", name, v, r.code, r.body)
				}
				r.must(t, r.code, &got)
				if got.ID == uuid.Nil {
					got.ID = got.AssetID
				}
				if row := f.row(got.ID); row.AltText == nil || *row.AltText != v {
					t.Errorf("%s %q: stored %v", name, v, row.AltText)
				}
			}
		}

		// Called directly, past the contract, the handlers apply the same rule.
		ctx := authn.WithPrincipal(context.Background(), &authn.Principal{Subject: editorID.String(), Roles: []string{"EDITOR"}})
		for _, c := range []struct{ v, code string }{{"\u200b\u202e\u00a0\u3000", humantext.CodeBlank}, {"a\u0017", humantext.CodeInvalidCharacter}} {
			v := c.v
			_, err1 := f.svc.UpdateAsset(ctx, mediaapi.UpdateAssetRequestObject{AssetId: a.Id, Body: &mediaapi.AssetUpdate{AltText: &v}})
			_, err2 := f.svc.CreateUploadSession(ctx, mediaapi.CreateUploadSessionRequestObject{Body: &mediaapi.UploadSessionCreate{
				Filename: "a.mp4", ContentType: "video/mp4", SizeBytes: int64(len(data)), ChecksumSha256: sum(data), AltText: &v,
			}})
			for i, err := range []error{err1, err2} {
				var pe *apierror.Error
				if !errors.As(err, &pe) || pe.Status != http.StatusUnprocessableEntity || len(pe.Errors) != 1 || pe.Errors[0].Field != "alt_text" || pe.Errors[0].Code != c.code {
					t.Errorf("call %d with %q directly: %v", i, v, err)
				}
			}
		}
	})
}
