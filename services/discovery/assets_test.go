package discovery

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// cdn is the base of the test assets' URLs.
const cdn = "https://cdn.example.com/"

// assetUpdatedMsg is asset.updated of a public asset (with its CDN URL and thumbnails) or, when
// public is false, of one that shows nothing.
func assetUpdatedMsg(t *testing.T, id string, version int64, kind string, public bool, thumbnails ...string) eventbus.Message {
	t.Helper()
	eid := newID()
	e := &mediaevents.AssetUpdated{EventID: eid, OccurredAt: base, AggregateID: id, Kind: kind, Public: public,
		Thumbnails: map[string]string{}, Version: version}
	if public {
		e.PublicURL = ptr(fmt.Sprintf("%s%s/v%d", cdn, id, version))
		for _, size := range thumbnails {
			e.Thumbnails[size] = fmt.Sprintf("%s%s/v%d/%s.jpg", cdn, id, version, size)
		}
	}
	return message(t, e, eid)
}

func assetDeletedMsg(t *testing.T, id string) eventbus.Message {
	eid := newID()
	return message(t, &mediaevents.AssetDeleted{EventID: eid, OccurredAt: base, AggregateID: id,
		Reason: mediaevents.DeletionReasonDeleted}, eid)
}

// testAssetURL is the URL assetUpdatedMsg gives asset id at version: its original, or its thumbnail
// of size.
func testAssetURL(id string, version int64, size string) string {
	if size == "" {
		return fmt.Sprintf("%s%s/v%d", cdn, id, version)
	}
	return fmt.Sprintf("%s%s/v%d/%s.jpg", cdn, id, version, size)
}

// countAssetReads makes the service read through a driver that counts the statements reading
// the asset table, and returns the counter.
func (f *fixture) countAssetReads() *atomic.Int64 {
	var n atomic.Int64
	fromAssets := regexp.MustCompile("FROM [`\"]assets[`\"]")
	drv := dialect.DebugWithContext(f.db.Ent(), func(_ context.Context, args ...any) {
		if fromAssets.MatchString(fmt.Sprint(args...)) {
			n.Add(1)
		}
	})
	f.svc.read = discoverydb.NewClient(discoverydb.Driver(drv))
	return &n
}

// str shows an optional string in a failure message.
func str(s *string) string {
	if s == nil {
		return "<absent>"
	}
	return *s
}

// TestProgramCover follows a program's cover through the asset's life: shown while the asset is
// public, whichever of the asset and the content event came first; gone when it turns private or
// is deleted, or when the program drops it; an older or repeated asset event changes nothing;
// the ETag follows the URL.
func TestProgramCover(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		for _, assetFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("asset first %v", assetFirst), func(t *testing.T) {
				f := newFixture(t, db)
				id, cover := newID(), newID()
				path := "/api/v1/discovery/programs/" + id
				p := programSnap(id, 1, "Cover Story", "en")
				p.CoverAssetID = &cover
				ready := assetUpdatedMsg(t, cover, 2, mediaevents.AssetKindImage, true, "small", "medium", "large")
				if assetFirst {
					f.feed(ready, publishedMsg(t, p))
				} else {
					f.feed(publishedMsg(t, p))
					var before discoveryapi.PublicProgram
					if f.getJSON(path, &before); before.CoverUrl != nil {
						t.Fatalf("cover_url %s before the asset is known", *before.CoverUrl)
					}
					f.feed(ready)
				}
				wantCover := func(want string) string {
					t.Helper()
					var got discoveryapi.PublicProgram
					f.getJSON(path, &got)
					var list programList
					f.getJSON("/api/v1/discovery/programs?limit=100", &list)
					var listed *string
					for _, it := range list.Items {
						if it.ID == id {
							listed = it.CoverURL
						}
					}
					if want == "" {
						if got.CoverUrl != nil || listed != nil {
							t.Fatalf("cover_url %s (list %s), want absent", str(got.CoverUrl), str(listed))
						}
					} else if got.CoverUrl == nil || *got.CoverUrl != want || listed == nil || *listed != want {
						t.Fatalf("cover_url %s (list %s), want %s", str(got.CoverUrl), str(listed), want)
					}
					return f.record(path).Header().Get("ETag")
				}
				shown := wantCover(testAssetURL(cover, 2, "")) // the original, not a thumbnail

				private := assetUpdatedMsg(t, cover, 3, mediaevents.AssetKindImage, false)
				f.feed(private)
				if hidden := wantCover(""); hidden == shown {
					t.Fatalf("ETag %s unchanged when the cover went away", hidden)
				}
				f.feed(assetUpdatedMsg(t, cover, 2, mediaevents.AssetKindImage, true)) // older: ignored
				wantCover("")

				f.feed(assetUpdatedMsg(t, cover, 4, mediaevents.AssetKindImage, true))
				again := wantCover(testAssetURL(cover, 4, ""))
				if again == shown {
					t.Fatalf("ETag %s unchanged when the cover URL changed", again)
				}
				f.feed(private) // a redelivered event: already applied
				if etag := wantCover(testAssetURL(cover, 4, "")); etag != again {
					t.Fatalf("ETag %s after a redelivery, want %s", etag, again)
				}

				// The program drops its cover, then takes it back.
				p.Version, p.CoverAssetID = 2, nil
				f.feed(updatedMsg(t, p, "cover_asset_id"))
				wantCover("")
				p.Version, p.CoverAssetID = 3, &cover
				f.feed(updatedMsg(t, p, "cover_asset_id"))
				wantCover(testAssetURL(cover, 4, ""))

				f.feed(assetDeletedMsg(t, cover))
				wantCover("")
				f.feed(assetDeletedMsg(t, cover)) // deleting what is gone is no error
				wantCover("")
			})
		}
	})
}

// TestEpisodeAssetURLs checks the thumbnail picked for an episode (medium, else small, else
// large, else an image's original; nothing of a video without thumbnails) and its media URL, on
// every read path of episodes.
func TestEpisodeAssetURLs(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		prog := newID()
		f.feed(publishedMsg(t, programSnap(prog, 1, "Audio Hour", "en")))
		type want struct{ thumbnail, media string }
		var (
			episodes []string
			wants    = map[string]want{}
		)
		add := func(thumb, media *string, w want) {
			e := episodeSnap(newID(), prog, 1, nil, len(episodes)+1, base.Add(time.Duration(len(episodes))*time.Minute))
			e.ThumbnailAssetID, e.MediaAssetID = thumb, media
			f.feed(publishedMsg(t, e))
			episodes = append(episodes, e.ID)
			wants[e.ID] = w
		}
		all, smallLarge, large, bare, video, audio, private := newID(), newID(), newID(), newID(), newID(), newID(), newID()
		f.feed(
			assetUpdatedMsg(t, all, 1, mediaevents.AssetKindImage, true, "small", "medium", "large"),
			assetUpdatedMsg(t, smallLarge, 1, mediaevents.AssetKindImage, true, "large", "small"),
			assetUpdatedMsg(t, large, 1, mediaevents.AssetKindImage, true, "large"),
			assetUpdatedMsg(t, bare, 1, mediaevents.AssetKindImage, true),
			assetUpdatedMsg(t, video, 1, mediaevents.AssetKindVideo, true),
			assetUpdatedMsg(t, audio, 1, mediaevents.AssetKindAudio, true),
			assetUpdatedMsg(t, private, 1, mediaevents.AssetKindAudio, false),
		)
		add(&all, &audio, want{testAssetURL(all, 1, "medium"), testAssetURL(audio, 1, "")})
		add(&smallLarge, &video, want{testAssetURL(smallLarge, 1, "small"), testAssetURL(video, 1, "")})
		add(&large, nil, want{thumbnail: testAssetURL(large, 1, "large")})
		add(&bare, &private, want{thumbnail: testAssetURL(bare, 1, "")})
		add(&video, ptr(newID()), want{}) // a video without thumbnails; a media asset never announced
		add(nil, nil, want{})

		check := func(where string, e discoveryapi.PublicEpisode) {
			t.Helper()
			w, ok := wants[e.Id.String()]
			if !ok {
				t.Fatalf("%s: unexpected episode %s", where, e.Id)
			}
			if str(e.ThumbnailUrl) != str(optional(w.thumbnail)) || str(e.MediaUrl) != str(optional(w.media)) {
				t.Errorf("%s: episode %s thumbnail_url %s media_url %s, want %s %s", where, e.Id,
					str(e.ThumbnailUrl), str(e.MediaUrl), str(optional(w.thumbnail)), str(optional(w.media)))
			}
		}
		for _, id := range episodes {
			var e discoveryapi.PublicEpisode
			f.getJSON("/api/v1/discovery/episodes/"+id, &e)
			check("getPublicEpisode", e)
		}
		var page discoveryapi.PublicEpisodeList
		f.getJSON("/api/v1/discovery/latest", &page)
		for _, e := range page.Items {
			check("listLatestEpisodes", e)
		}
		f.getJSON("/api/v1/discovery/programs/"+prog+"/episodes?limit=100", &page)
		if len(page.Items) != len(episodes) {
			t.Fatalf("listPublicEpisodes: %d episodes, want %d", len(page.Items), len(episodes))
		}
		for _, e := range page.Items {
			check("listPublicEpisodes", e)
		}
		var batch discoveryapi.ProgramEpisodesList
		f.getJSON(batchPath([]string{prog}, "per_program=20"), &batch)
		for _, e := range batch.Items[0].Episodes {
			check("listEpisodesOfPrograms", e)
		}

		// The media asset turns private: the episode keeps its thumbnail, loses its media URL.
		f.feed(assetUpdatedMsg(t, audio, 2, mediaevents.AssetKindAudio, false))
		var e discoveryapi.PublicEpisode
		f.getJSON("/api/v1/discovery/episodes/"+episodes[0], &e)
		if e.MediaUrl != nil || str(e.ThumbnailUrl) != testAssetURL(all, 1, "medium") {
			t.Fatalf("after the media turned private: thumbnail_url %s media_url %s", str(e.ThumbnailUrl), str(e.MediaUrl))
		}
	})
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// TestAssetURLsInOneQuery reads pages of several programs and episodes, each with its own
// assets: every URL is resolved, with one read of the asset table per response.
func TestAssetURLsInOneQuery(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		const n = 4
		var programs []string
		covers, thumbs, media := map[string]string{}, map[string]string{}, map[string]string{}
		for i := range n {
			p := programSnap(newID(), 1, fmt.Sprintf("Program %d", i), "en")
			cover := newID()
			p.CoverAssetID = &cover
			p.PublishedAt = ptr(base.Add(time.Duration(i) * time.Hour))
			f.feed(publishedMsg(t, p), assetUpdatedMsg(t, cover, 1, mediaevents.AssetKindImage, true, "medium"))
			programs = append(programs, p.ID)
			covers[p.ID] = testAssetURL(cover, 1, "")
			for j := range 2 {
				e := episodeSnap(newID(), p.ID, 1, nil, j+1, base.Add(time.Duration(i*10+j)*time.Minute))
				thumb, audio := newID(), newID()
				e.ThumbnailAssetID, e.MediaAssetID = &thumb, &audio
				f.feed(publishedMsg(t, e),
					assetUpdatedMsg(t, thumb, 1, mediaevents.AssetKindImage, true, "small", "medium"),
					assetUpdatedMsg(t, audio, 1, mediaevents.AssetKindAudio, true))
				thumbs[e.ID], media[e.ID] = testAssetURL(thumb, 1, "medium"), testAssetURL(audio, 1, "")
			}
		}
		reads := f.countAssetReads()
		once := func(path string, v any) {
			t.Helper()
			reads.Store(0)
			f.getJSON(path, v)
			if got := reads.Load(); got != 1 {
				t.Errorf("GET %s read the assets %d times, want once", path, got)
			}
		}
		wantEpisodes := func(where string, items []discoveryapi.PublicEpisode, count int) {
			t.Helper()
			if len(items) != count {
				t.Fatalf("%s: %d episodes, want %d", where, len(items), count)
			}
			for _, e := range items {
				if str(e.ThumbnailUrl) != thumbs[e.Id.String()] || str(e.MediaUrl) != media[e.Id.String()] {
					t.Errorf("%s: episode %s thumbnail_url %s media_url %s", where, e.Id, str(e.ThumbnailUrl), str(e.MediaUrl))
				}
			}
		}

		var list discoveryapi.PublicProgramList
		once("/api/v1/discovery/programs", &list)
		if len(list.Items) != n {
			t.Fatalf("%d programs, want %d", len(list.Items), n)
		}
		for _, p := range list.Items {
			if str(p.CoverUrl) != covers[p.Id.String()] {
				t.Errorf("program %s cover_url %s, want %s", p.Id, str(p.CoverUrl), covers[p.Id.String()])
			}
		}
		var one discoveryapi.PublicProgram
		once("/api/v1/discovery/programs/"+programs[0], &one)
		if str(one.CoverUrl) != covers[programs[0]] {
			t.Errorf("getPublicProgram cover_url %s", str(one.CoverUrl))
		}
		var latest discoveryapi.PublicEpisodeList
		once("/api/v1/discovery/latest", &latest)
		wantEpisodes("listLatestEpisodes", latest.Items, 2*n)
		var episodes discoveryapi.PublicEpisodeList
		once("/api/v1/discovery/programs/"+programs[1]+"/episodes", &episodes)
		wantEpisodes("listPublicEpisodes", episodes.Items, 2)
		var batch discoveryapi.ProgramEpisodesList
		once(batchPath(programs, ""), &batch)
		var all []discoveryapi.PublicEpisode
		for _, it := range batch.Items {
			all = append(all, it.Episodes...)
		}
		wantEpisodes("listEpisodesOfPrograms", all, 2*n)
		var e discoveryapi.PublicEpisode
		once("/api/v1/discovery/episodes/"+latest.Items[0].Id.String(), &e)
		wantEpisodes("getPublicEpisode", []discoveryapi.PublicEpisode{e}, 1)

		// A page without any asset id reads no assets.
		bare := programSnap(newID(), 1, "Bare", "en")
		bare.PublishedAt = ptr(base.Add(-time.Hour))
		f.feed(publishedMsg(t, bare))
		reads.Store(0)
		f.getJSON("/api/v1/discovery/programs/"+bare.ID, &one)
		if got := reads.Load(); got != 0 || one.CoverUrl != nil {
			t.Errorf("a program without a cover: %d reads of the assets, cover_url %s", got, str(one.CoverUrl))
		}
	})
}

// TestAssetEventRejected: an asset event that cannot be applied is an error (retried, then
// dead-lettered), and a URL the contract cannot show is left out rather than failing the event.
func TestAssetEventRejected(t *testing.T) {
	f := newFixture(t, databasetest.SQLite(t))
	eid := newID()
	bad := message(t, &mediaevents.AssetUpdated{EventID: eid, OccurredAt: base, AggregateID: "not-a-uuid",
		Kind: mediaevents.AssetKindImage, Thumbnails: map[string]string{}, Version: 1}, eid)
	if err := f.svc.HandleEvent(t.Context(), bad); err == nil {
		t.Fatal("asset.updated with a bad id applied")
	}

	id, cover := newID(), newID()
	p := programSnap(id, 1, "Odd URLs", "en")
	p.CoverAssetID = &cover
	eid = newID()
	long := cdn + strings.Repeat("a", maxURLLength)
	odd := message(t, &mediaevents.AssetUpdated{EventID: eid, OccurredAt: base, AggregateID: cover, Kind: mediaevents.AssetKindImage,
		Public: true, PublicURL: ptr("/relative/cover.jpg"), Thumbnails: map[string]string{"medium": long, "small": cdn + "small.jpg"}, Version: 1}, eid)
	f.feed(publishedMsg(t, p), odd)
	var got discoveryapi.PublicProgram
	if f.getJSON("/api/v1/discovery/programs/"+id, &got); got.CoverUrl != nil {
		t.Fatalf("cover_url %s from a relative URL", *got.CoverUrl)
	}
	row, err := f.svc.read.Asset.Get(t.Context(), uuid.MustParse(cover))
	if err != nil {
		t.Fatal(err)
	}
	if row.URL != nil || str(row.ThumbnailURL) != cdn+"small.jpg" {
		t.Fatalf("stored url %s thumbnail_url %s, want absent and the small thumbnail", str(row.URL), str(row.ThumbnailURL))
	}
}
