package ingest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/ingestdb/item"
	"github.com/mediamesh/mediamesh/ent/ingestdb/run"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/ingestapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/services/ingest/feed/feedtest"
)

// podcastEpisode is what the podcast fixture's items become in a program without episodes.
type podcastEpisode struct {
	guid     string
	title    string
	season   *int32
	duration int32
	image    string // file name of the item's artwork, "" for none
}

// podcastEpisodes by episode number: the trailer has no number and gets the first free one.
var podcastEpisodes = map[int32]podcastEpisode{
	1:   {"sabah-trailer", "Trailer: Welcome to Sabah | مرحبًا بكم في صباح", nil, 95, ""},
	142: {"https://sabah-podcast.example/episodes/142", "الحلقة ١٤٢: أسئلة المستمعين", ptr[int32](3), 38*60 + 20, "ep-142.jpg"},
	143: {"sabah-ep-143", "Episode 143: Translating poetry, with Layla Haddad", ptr[int32](3), 1830, ""},
	144: {"sabah-ep-144", "الحلقة ١٤٤: مدن تمشي على مهل", ptr[int32](3), 47*60 + 15, "ep-144.jpg"},
	145: {"sabah-ep-145", "الحلقة ١٤٥: القراءة في زمن السرعة", ptr[int32](3), 3600 + 2*60 + 3, "ep-145.jpg"},
}

// checkCounts compares a run's counters.
func checkCounts(t *testing.T, r ingestapi.IngestRun, status ingestapi.IngestRunStatus, seen, created, updated, skipped, failed int32) {
	t.Helper()
	if r.Status != status || r.ItemsSeen != seen || r.ItemsCreated != created || r.ItemsUpdated != updated || r.ItemsSkipped != skipped || r.ItemsFailed != failed {
		var errs []string
		for _, e := range r.Errors {
			errs = append(errs, deref(e.ItemGuid)+": "+e.Code+": "+e.Message)
		}
		t.Fatalf("run %s: status %s seen %d created %d updated %d skipped %d failed %d; want %s %d %d %d %d %d (message %q, errors %q)",
			r.Id, r.Status, r.ItemsSeen, r.ItemsCreated, r.ItemsUpdated, r.ItemsSkipped, r.ItemsFailed,
			status, seen, created, updated, skipped, failed, deref(r.Message), errs)
	}
	if r.ItemsSeen != r.ItemsCreated+r.ItemsUpdated+r.ItemsSkipped+r.ItemsFailed {
		t.Fatalf("run %s: items_seen %d is not the sum of the others", r.Id, r.ItemsSeen)
	}
	if r.StartedAt == nil || r.FinishedAt == nil || r.DurationMs == nil {
		t.Fatalf("run %s: started %v finished %v duration %v", r.Id, r.StartedAt, r.FinishedAt, r.DurationMs)
	}
}

// checkCompleted compares the ingest.completed event of a run with the run.
func (f *fixture) checkCompleted(src ingestapi.Source, r ingestapi.IngestRun) {
	f.t.Helper()
	ev := f.completed(r.Id)
	if ev.SourceID != src.Id.String() || ev.AggregateID != src.Id.String() || ev.SourceType != string(src.Type) || ev.Trigger != string(r.Trigger) ||
		ev.ItemsSeen != int(r.ItemsSeen) || ev.ItemsCreated != int(r.ItemsCreated) || ev.ItemsUpdated != int(r.ItemsUpdated) ||
		ev.ItemsSkipped != int(r.ItemsSkipped) || ev.ItemsFailed != int(r.ItemsFailed) ||
		!ev.StartedAt.Equal(*r.StartedAt) || !ev.FinishedAt.Equal(*r.FinishedAt) {
		f.t.Fatalf("ingest.completed %+v does not match run %+v", ev, r)
	}
	if _, err := uuid.Parse(ev.EventID); err != nil {
		f.t.Fatalf("event id %q", ev.EventID)
	}
}

// uploadFor returns the upload attached to content id; there must be exactly one.
func uploadFor(t *testing.T, uploads []mediaUpload, kind string, id uuid.UUID) mediaUpload {
	t.Helper()
	var found []mediaUpload
	for _, u := range uploads {
		if u.attachID == id.String() {
			found = append(found, u)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d uploads attached to %s %s, want 1", len(found), kind, id)
	}
	u := found[0]
	if u.attachType != kind || u.visibility != "public" || u.contentType != "image/jpeg" || u.size == 0 {
		t.Fatalf("upload for %s %s: %+v", kind, id, u)
	}
	return u
}

// TestPipelinePodcast ingests the podcast fixture: one program, five draft episodes with their
// thumbnails, one failed item; then a conditional run that finds nothing new, and a full refresh
// that skips everything.
func TestPipelinePodcast(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		srv := feedtest.FeedServer(t)
		category := uuid.Must(uuid.NewV7())
		tgt := target()
		tgt["default_category_id"] = category.String()
		src := f.createSource(map[string]any{"name": "Sabah feed", "type": "rss", "url": srv.URL + "/podcast.xml", "target": tgt})

		queued := f.trigger(src.Id, false)
		r := f.runOnce(queued.Id)
		checkCounts(t, r, ingestapi.Partial, 6, 5, 0, 0, 1)
		if len(r.Errors) != 1 || r.Errors[0].Code != "invalid_media_url" || r.Errors[0].ItemGuid == nil || *r.Errors[0].ItemGuid != "sabah-ep-141" || r.Errors[0].Message == "" {
			t.Errorf("errors %+v, want sabah-ep-141 invalid_media_url", r.Errors)
		}
		if r.HttpStatus == nil || *r.HttpStatus != 200 || r.NotModified || r.Message != nil {
			t.Errorf("http_status %v not_modified %v message %v", r.HttpStatus, r.NotModified, r.Message)
		}
		if !r.StartedAt.Equal(epoch) || !r.FinishedAt.Equal(epoch) || *r.DurationMs != 0 {
			t.Errorf("started %v finished %v duration %d with a fixed clock", r.StartedAt, r.FinishedAt, *r.DurationMs)
		}

		// The program: from the channel, with the target's defaults and its cover.
		episodes, programs := f.cms.snapshot()
		if len(programs) != 1 || len(f.cms.programCreates) != 1 {
			t.Fatalf("%d programs (%d creates), want 1", len(programs), len(f.cms.programCreates))
		}
		var prog cmsapi.Program
		for _, p := range programs {
			prog = p
		}
		suffix := strings.ReplaceAll(src.Id.String(), "-", "")[24:]
		if prog.Title != "صباح | Sabah" || prog.Kind != "podcast" || prog.Language != "ar" || prog.Slug != "sabah-"+suffix ||
			prog.CategoryId == nil || *prog.CategoryId != category || prog.Status != cmsapi.PublicationStatusDraft {
			t.Errorf("program %+v", prog)
		}
		if prog.Summary == nil || !strings.Contains(*prog.Summary, "A weekly Arabic podcast") || strings.Contains(*prog.Summary, "<p>") {
			t.Errorf("program summary %v", prog.Summary)
		}
		uploads := f.media.all()
		cover := uploadFor(t, uploads, "program", prog.Id)
		if cover.filename != "cover.jpg" || prog.CoverAssetId == nil || *prog.CoverAssetId != cover.id {
			t.Errorf("cover: upload %+v, program cover %v", cover, prog.CoverAssetId)
		}
		if len(f.cms.programUpdates) != 1 || f.cms.programUpdates[0].ifMatch != `"1"` {
			t.Errorf("program updates %+v", f.cms.programUpdates)
		}
		if s := f.source(src.Id); s.ProgramID == nil || *s.ProgramID != prog.Id {
			t.Errorf("source program_id %v, want %s", s.ProgramID, prog.Id)
		}

		// The episodes, oldest first.
		if len(episodes) != 5 {
			t.Fatalf("%d episodes, want 5", len(episodes))
		}
		var numbers []int32
		for _, e := range episodes {
			numbers = append(numbers, e.EpisodeNumber)
			want, ok := podcastEpisodes[e.EpisodeNumber]
			if !ok {
				t.Errorf("unexpected episode number %d (%s)", e.EpisodeNumber, e.Title)
				continue
			}
			if e.ProgramId != prog.Id || e.Title != want.title || e.DurationSeconds == nil || *e.DurationSeconds != want.duration ||
				(e.SeasonNumber == nil) != (want.season == nil) || (e.SeasonNumber != nil && *e.SeasonNumber != *want.season) ||
				e.Status != cmsapi.PublicationStatusDraft {
				t.Errorf("episode %d: %+v (summary omitted), want %+v", e.EpisodeNumber, e.Title, want)
			}
			if e.Summary == nil || *e.Summary == "" || utf8.RuneCountInString(*e.Summary) > 1000 || strings.ContainsAny(*e.Summary, "<>") {
				t.Errorf("episode %d summary %v", e.EpisodeNumber, e.Summary)
			}
			if want.image == "" {
				if e.ThumbnailAssetId != nil || e.Version != 1 {
					t.Errorf("episode %d without artwork has thumbnail %v, version %d", e.EpisodeNumber, e.ThumbnailAssetId, e.Version)
				}
				continue
			}
			u := uploadFor(t, uploads, "episode", e.Id)
			if u.filename != want.image || e.ThumbnailAssetId == nil || *e.ThumbnailAssetId != u.id || e.Version != 2 {
				t.Errorf("episode %d thumbnail %v version %d, upload %+v", e.EpisodeNumber, e.ThumbnailAssetId, e.Version, u)
			}
		}
		if !slices.Equal(numbers, []int32{1, 142, 143, 144, 145}) {
			t.Errorf("episodes created in the order %v, want oldest first", numbers)
		}
		if e := episodes[4]; e.Summary == nil || !strings.Contains(*e.Summary, "د. سلمى الخطيب") || strings.Contains(*e.Summary, "alert") {
			t.Errorf("episode 145 summary %v: want plain text without the script", e.Summary)
		}
		if len(uploads) != 4 {
			t.Errorf("%d uploads, want a cover and 3 thumbnails", len(uploads))
		}
		for _, u := range f.cms.episodeUpdates {
			if u.ifMatch != `"1"` || len(u.patch) != 1 || u.patch["thumbnail_asset_id"] == nil {
				t.Errorf("episode update %+v: want only the thumbnail, at version 1", u)
			}
		}

		// What the service recorded.
		items, err := f.svc.read.Item.Query().Where(item.SourceID(src.Id)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 5 {
			t.Fatalf("%d items recorded, want 5", len(items))
		}
		for _, it := range items {
			if (it.ThumbnailAssetID != nil) != (it.ImageURL != nil) {
				t.Errorf("item %s: image %v thumbnail %v", it.GUID, it.ImageURL, it.ThumbnailAssetID)
			}
		}
		s := f.getSource(src.Id)
		if s.LastRunStatus == nil || *s.LastRunStatus != ingestapi.Partial || s.LastRunAt == nil || !s.LastRunAt.Equal(epoch) || *s.ConsecutiveFailures != 0 {
			t.Errorf("source after the run: %+v", s)
		}
		if st := f.source(src.Id); st.Etag == nil || *st.Etag == "" || st.LastModified == nil || *st.LastModified != feedtest.FeedLastModified {
			t.Errorf("validators kept: etag %v last_modified %v", st.Etag, st.LastModified)
		}
		f.checkCompleted(src, r)
		if n := len(f.events()); n != 1 {
			t.Fatalf("%d events, want 1", n)
		}
		var list ingestapi.IngestRunList
		f.do(http.MethodGet, sourcePath(src.Id, "runs")+"?status=partial", "editor", nil).must(t, http.StatusOK, &list)
		if len(list.Items) != 1 || list.Items[0].Id != r.Id {
			t.Errorf("runs?status=partial: %+v", list.Items)
		}

		// A second run: the upstream answers 304 and nothing is done.
		f.clock.advance(time.Minute)
		queued = f.trigger(src.Id, false)
		r = f.runOnce(queued.Id)
		checkCounts(t, r, ingestapi.Succeeded, 0, 0, 0, 0, 0)
		if !r.NotModified || r.HttpStatus == nil || *r.HttpStatus != 304 {
			t.Errorf("second run: not_modified %v http_status %v", r.NotModified, r.HttpStatus)
		}
		if p, e, eu, pu := f.cms.counts(); p != 1 || e != 5 || eu != 3 || pu != 1 || len(f.media.all()) != 4 {
			t.Errorf("the 304 run changed the CMS: %d programs, %d episodes, %d episode updates, %d program updates, %d uploads", p, e, eu, pu, len(f.media.all()))
		}
		f.checkCompleted(src, r)

		// A full refresh fetches again and skips what is already there.
		queued = f.trigger(src.Id, true)
		r = f.runOnce(queued.Id)
		checkCounts(t, r, ingestapi.Partial, 6, 0, 0, 5, 1)
		if r.NotModified || *r.HttpStatus != 200 || !r.FullRefresh {
			t.Errorf("full refresh: not_modified %v http_status %v", r.NotModified, *r.HttpStatus)
		}
		if p, e, eu, pu := f.cms.counts(); p != 1 || e != 5 || eu != 3 || pu != 1 || len(f.media.all()) != 4 {
			t.Errorf("the full refresh changed the CMS: %d programs, %d episodes, %d episode updates, %d program updates", p, e, eu, pu)
		}
		f.checkCompleted(src, r)
		if n := len(f.events()); n != 3 {
			t.Fatalf("%d events, want 3", n)
		}
		if n, _ := f.svc.read.Run.Query().Where(run.SourceID(src.Id)).Count(ctx); n != 3 {
			t.Errorf("%d runs, want 3", n)
		}
	})
}

// feedDoc is an upstream serving a document the test can change, with a status the test can set.
type feedDoc struct {
	mu     sync.Mutex
	body   []byte
	status int
	hits   int
}

func (d *feedDoc) set(status int, body []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status, d.body = status, body
}

func (d *feedDoc) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		status, body := d.status, d.body
		d.hits++
		d.mu.Unlock()
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// podcastAt is the podcast fixture with its images at base.
func podcastAt(base string) []byte {
	return bytes.ReplaceAll(feedtest.PodcastFeed(), []byte(feedtest.DefaultBase), []byte(base))
}

// TestPipelineUpdatesChangedItem changes one item upstream: its episode is updated with the new
// fields, at the episode's current version, and the rest is skipped.
func TestPipelineUpdatesChangedItem(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		images := feedtest.FeedServer(t)
		doc := &feedDoc{}
		doc.set(200, podcastAt(images.URL))
		up := doc.server(t)
		src := f.createSource(rssSource("Sabah", up.URL+"/feed.xml"))

		r := f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Partial, 6, 5, 0, 0, 1)
		episodes, _ := f.cms.snapshot()
		var ep144 cmsapi.Episode
		for _, e := range episodes {
			if e.EpisodeNumber == 144 {
				ep144 = e
			}
		}
		if ep144.Version != 2 {
			t.Fatalf("episode 144 version %d after its thumbnail, want 2", ep144.Version)
		}
		// An editor touches the episode in the CMS meanwhile.
		f.cms.mu.Lock()
		f.cms.episodes[ep144.Id].Version = 5
		f.cms.mu.Unlock()

		const oldTitle = "الحلقة ١٤٤: مدن تمشي على مهل"
		const newTitle = "الحلقة ١٤٤: مدن تمشي ببطء — نسخة محدّثة"
		long := strings.Repeat("مدينة للمشاة. ", 250) // 3500 runes
		changed := bytes.Replace(podcastAt(images.URL), []byte(oldTitle), []byte(newTitle), 1)
		changed = bytes.Replace(changed, []byte("كيف تبدو مدينة مصممة للمشاة؟"), []byte(long), 1)
		if bytes.Equal(changed, podcastAt(images.URL)) {
			t.Fatal("the fixture did not change")
		}
		doc.set(200, changed)
		f.clock.advance(time.Hour)

		r = f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Partial, 6, 0, 1, 4, 1)
		f.checkCompleted(src, r)
		var updates []cmsUpdate
		for _, u := range f.cms.episodeUpdates {
			if u.id == ep144.Id && u.patch["title"] != nil {
				updates = append(updates, u)
			}
		}
		if len(updates) != 1 {
			t.Fatalf("%d content updates of episode 144, want 1 (all: %+v)", len(updates), f.cms.episodeUpdates)
		}
		u := updates[0]
		if u.ifMatch != `"5"` || u.patch["title"] != newTitle || u.patch["duration_seconds"] != float64(2835) {
			t.Errorf("update %+v: want the new title at If-Match \"5\"", u)
		}
		if s, _ := u.patch["summary"].(string); utf8.RuneCountInString(s) != 1000 || !strings.HasPrefix(s, "مدينة للمشاة.") {
			t.Errorf("updated summary has %d runes, want the first 1000", utf8.RuneCountInString(s))
		}
		episodes, _ = f.cms.snapshot()
		for _, e := range episodes {
			if e.Id == ep144.Id && (e.Title != newTitle || e.Version != 6 || e.ThumbnailAssetId == nil || *e.ThumbnailAssetId != *ep144.ThumbnailAssetId) {
				t.Errorf("episode 144 after the update: %+v", e)
			}
		}
		if p, e, _, _ := f.cms.counts(); p != 1 || e != 5 || len(f.media.all()) != 4 {
			t.Errorf("an update created content: %d programs, %d episodes, %d uploads", p, e, len(f.media.all()))
		}

		// Once updated, the item is unchanged.
		r = f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Partial, 6, 0, 0, 5, 1)
	})
}

// TestPipelineThumbnailRetry ingests while the media service refuses uploads: the episodes are
// created without thumbnails, and a later full refresh stores them without creating anything.
func TestPipelineThumbnailRetry(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		srv := feedtest.FeedServer(t)
		f.media.mu.Lock()
		f.media.status = http.StatusServiceUnavailable
		f.media.mu.Unlock()
		src := f.createSource(rssSource("Sabah", srv.URL+"/podcast.xml"))

		r := f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Partial, 6, 5, 0, 0, 1)
		episodes, programs := f.cms.snapshot()
		for _, e := range episodes {
			if e.ThumbnailAssetId != nil {
				t.Errorf("episode %d has a thumbnail while uploads fail", e.EpisodeNumber)
			}
		}
		for _, p := range programs {
			if p.CoverAssetId != nil {
				t.Errorf("the program has a cover while uploads fail")
			}
		}

		f.media.mu.Lock()
		f.media.status = 0
		f.media.mu.Unlock()
		r = f.runOnce(f.trigger(src.Id, true).Id)
		if r.ItemsSeen != 6 || r.ItemsCreated != 0 || r.ItemsFailed != 1 || r.ItemsUpdated+r.ItemsSkipped != 5 {
			t.Fatalf("retry run: %+v", r)
		}
		episodes, _ = f.cms.snapshot()
		if len(episodes) != 5 {
			t.Fatalf("%d episodes after the retry, want 5", len(episodes))
		}
		for _, e := range episodes {
			if want := podcastEpisodes[e.EpisodeNumber]; (want.image != "") != (e.ThumbnailAssetId != nil) {
				t.Errorf("episode %d: thumbnail %v after the retry", e.EpisodeNumber, e.ThumbnailAssetId)
			}
		}
		if n := len(f.media.all()); n != 3 {
			t.Errorf("%d uploads, want the 3 thumbnails", n)
		}
		// Now everything is in place: a full refresh skips all.
		r = f.runOnce(f.trigger(src.Id, true).Id)
		checkCounts(t, r, ingestapi.Partial, 6, 0, 0, 5, 1)
	})
}

// TestPipelineEpisodeNumberTaken ingests into a target program that already has episode 145 of
// season 3 and episode 1: items without a number, or whose number is taken, get numbers after the
// program's highest.
func TestPipelineEpisodeNumberTaken(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		srv := feedtest.FeedServer(t)
		prog := f.cms.addProgram("Existing")
		taken := f.cms.addEpisode(prog, ptr[int32](3), 145)
		f.cms.addEpisode(prog, nil, 1)
		tgt := target()
		tgt["program_id"] = prog.String()
		src := f.createSource(map[string]any{"name": "Sabah", "type": "rss", "url": srv.URL + "/podcast.xml", "target": tgt})

		r := f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Partial, 6, 5, 0, 0, 1)
		episodes, _ := f.cms.snapshot()
		byTitle := map[string]cmsapi.Episode{}
		for _, e := range episodes {
			byTitle[e.Title] = e
		}
		// Numbers given out start after the program's highest (145): the trailer, the oldest item,
		// gets 146; sabah-ep-145, whose own number is taken, the next one.
		if e := byTitle[podcastEpisodes[145].title]; e.Id == taken || e.EpisodeNumber != 147 || e.SeasonNumber == nil || *e.SeasonNumber != 3 {
			t.Errorf("item sabah-ep-145 became episode %d of season %v, want 147 of season 3", e.EpisodeNumber, e.SeasonNumber)
		}
		if e := byTitle[podcastEpisodes[1].title]; e.EpisodeNumber != 146 || e.SeasonNumber != nil {
			t.Errorf("the trailer became episode %d, want 146", e.EpisodeNumber)
		}
		for _, n := range []int32{142, 143, 144} {
			if e := byTitle[podcastEpisodes[n].title]; e.EpisodeNumber != n {
				t.Errorf("item %d became episode %d", n, e.EpisodeNumber)
			}
		}
		if f.cms.conflicts == 0 {
			t.Error("the CMS never refused a number")
		}
		if len(f.cms.programCreates) != 0 {
			t.Errorf("a program was created for a source with a target program")
		}
	})
}

// TestPipelineTargetProgram ingests into an existing program: no program is created and every
// episode goes to it.
func TestPipelineTargetProgram(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		srv := feedtest.FeedServer(t)
		prog := f.cms.addProgram("Existing")
		tgt := target()
		tgt["program_id"] = prog.String()
		src := f.createSource(map[string]any{"name": "Sabah", "type": "rss", "url": srv.URL + "/podcast.xml", "target": tgt})

		r := f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Partial, 6, 5, 0, 0, 1)
		episodes, programs := f.cms.snapshot()
		if len(f.cms.programCreates) != 0 || len(programs) != 1 || len(f.cms.programUpdates) != 0 {
			t.Errorf("%d program creates, %d programs, %d program updates; want the target program only, untouched",
				len(f.cms.programCreates), len(programs), len(f.cms.programUpdates))
		}
		if programs[prog].CoverAssetId != nil || programs[prog].Title != "Existing" {
			t.Errorf("the target program was changed: %+v", programs[prog])
		}
		if len(episodes) != 5 {
			t.Fatalf("%d episodes", len(episodes))
		}
		for _, e := range episodes {
			if e.ProgramId != prog {
				t.Errorf("episode %d went to program %s, want %s", e.EpisodeNumber, e.ProgramId, prog)
			}
		}
		for _, u := range f.media.all() {
			if u.attachType != "episode" {
				t.Errorf("upload %+v: only episode thumbnails expected", u)
			}
		}
		if s := f.source(src.Id); s.ProgramID != nil {
			t.Errorf("source program_id %v set for a target program", s.ProgramID)
		}
	})
}

// TestPipelineJSON ingests the JSON API fixture with its mapping.
func TestPipelineJSON(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		srv := feedtest.FeedServer(t)
		src := f.createSource(map[string]any{"name": "Horizon talks", "type": "json", "url": srv.URL + "/talks.json",
			"target": map[string]any{"default_kind": "series", "default_language": "en"}, "json_mapping": talksMapping()})

		r := f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Partial, 6, 4, 0, 0, 2)
		codes := map[string]string{}
		for _, e := range r.Errors {
			codes[deref(e.ItemGuid)] = e.Code
		}
		if len(codes) != 2 || codes["1005"] != "missing_title" || codes["1006"] != "invalid_date" {
			t.Errorf("item errors %+v, want 1005 missing_title and 1006 invalid_date", r.Errors)
		}
		f.checkCompleted(src, r)

		episodes, programs := f.cms.snapshot()
		if len(programs) != 1 || len(episodes) != 4 {
			t.Fatalf("%d programs, %d episodes", len(programs), len(episodes))
		}
		for _, p := range programs {
			if p.Title != "Horizon talks" || p.Kind != "series" || p.Language != "en" || p.CoverAssetId != nil {
				t.Errorf("program %+v: want the source's name and the target defaults", p)
			}
		}
		titles := map[string]cmsapi.Episode{}
		for _, e := range episodes {
			titles[e.Title] = e
		}
		for title, d := range map[string]int32{"Designing for Arabic-first audiences": 2710, "Caching at the edge": 1800, "Event sourcing in practice": 3605} {
			if e, ok := titles[title]; !ok || e.DurationSeconds == nil || *e.DurationSeconds != d {
				t.Errorf("episode %q: %+v, want duration %d", title, e, d)
			}
		}
		// Posters: 1001 and 1002 have absolute ones, 1003 none, 1004 a relative one (dropped).
		withThumb := 0
		for _, e := range episodes {
			if e.ThumbnailAssetId != nil {
				withThumb++
			}
		}
		if withThumb != 2 || len(f.media.all()) != 2 {
			t.Errorf("%d episodes with a thumbnail, %d uploads; want 2", withThumb, len(f.media.all()))
		}
		// The same document again: the validators make it a 304.
		r = f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Succeeded, 0, 0, 0, 0, 0)
		if !r.NotModified {
			t.Errorf("second run not_modified false")
		}
	})
}

// TestPipelineYouTube ingests the YouTube fixture through the API with the sealed key, and fails
// cleanly, without showing the key, when the key is refused.
func TestPipelineYouTube(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		yt := feedtest.YouTubeServer(t, feedtest.APIKey)
		f := newFixture(t, db, func(c *setup) { c.YouTubeBaseURL = yt.URL + feedtest.YouTubeAPIPath })
		const wrongKey = "AIzaSyD-WRONG-KEY-9876543210fedcba"
		f.secret(feedtest.APIKey)
		f.secret(wrongKey)

		good := f.createSource(map[string]any{"name": "Playlist", "type": "youtube", "url": "https://www.youtube.com/playlist?list=" + feedtest.YouTubePlaylistID,
			"target":  map[string]any{"default_kind": "show", "default_language": "ar"},
			"youtube": map[string]any{"playlist_id": feedtest.YouTubePlaylistID}, "credentials": map[string]any{"api_key": feedtest.APIKey}})
		r := f.runOnce(f.trigger(good.Id, false).Id)
		checkCounts(t, r, ingestapi.Partial, 7, 5, 0, 0, 2)
		for _, e := range r.Errors {
			if e.Code != "unavailable_video" || e.ItemGuid == nil || !strings.HasPrefix(*e.ItemGuid, "yt:video:") {
				t.Errorf("item error %+v", e)
			}
		}
		f.checkCompleted(good, r)
		episodes, programs := f.cms.snapshot()
		if len(programs) != 1 || len(episodes) != 5 {
			t.Fatalf("%d programs, %d episodes", len(programs), len(episodes))
		}
		for _, e := range episodes {
			if e.ThumbnailAssetId == nil || e.DurationSeconds == nil {
				t.Errorf("episode %q: thumbnail %v duration %v", e.Title, e.ThumbnailAssetId, e.DurationSeconds)
			}
		}
		for _, u := range f.media.all() {
			if !strings.HasSuffix(u.filename, ".jpg") || u.visibility != "public" {
				t.Errorf("upload %+v", u)
			}
		}

		bad := f.createSource(map[string]any{"name": "Channel", "type": "youtube", "url": "https://www.youtube.com/channel/" + feedtest.YouTubeChannelID,
			"target":  map[string]any{"default_kind": "show", "default_language": "ar"},
			"youtube": map[string]any{"channel_id": feedtest.YouTubeChannelID}, "credentials": map[string]any{"api_key": wrongKey}})
		r = f.runOnce(f.trigger(bad.Id, false).Id)
		checkCounts(t, r, ingestapi.Failed, 0, 0, 0, 0, 0)
		msg := deref(r.Message)
		if !strings.Contains(msg, "API key not valid") || strings.Contains(msg, wrongKey) || strings.Contains(msg, "AIzaSyD") {
			t.Errorf("message %q: want the API's explanation without the key", msg)
		}
		if r.HttpStatus == nil || *r.HttpStatus != 403 {
			t.Errorf("http_status %v, want 403", r.HttpStatus)
		}
		ev := f.failed(r.Id)
		if ev.ErrorMessage != msg || ev.ErrorCode == "" || ev.HTTPStatus == nil || *ev.HTTPStatus != 403 || ev.SourceType != "youtube" {
			t.Errorf("ingest.failed %+v", ev)
		}
		if s := f.getSource(bad.Id); *s.ConsecutiveFailures != 1 || *s.LastRunStatus != ingestapi.Failed {
			t.Errorf("source after the failure: %+v", s)
		}
		if _, e, _, _ := f.cms.counts(); e != 5 {
			t.Errorf("the failed run created episodes")
		}
	})
}

// TestPipelineUpstreamFailure fails a run on an HTTP 500: recorded with the status and message,
// an ingest.failed event, and the source backing off; a later success resets the failures.
func TestPipelineUpstreamFailure(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		images := feedtest.FeedServer(t)
		doc := &feedDoc{}
		doc.set(http.StatusInternalServerError, []byte("database on fire"))
		up := doc.server(t)
		src := f.createSource(rssSource("Flaky", up.URL+"/feed.xml"))

		r := f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Failed, 0, 0, 0, 0, 0)
		if r.HttpStatus == nil || *r.HttpStatus != 500 || deref(r.Message) != "upstream answered HTTP 500 Internal Server Error" || len(r.Errors) != 0 {
			t.Errorf("failed run: http_status %v message %q errors %+v", r.HttpStatus, deref(r.Message), r.Errors)
		}
		// The log line of the failed run says why, as the run's record does.
		if logs := f.logs.String(); !strings.Contains(logs, `"msg":"ingest run failed"`) || !strings.Contains(logs, `"code":"http_status"`) ||
			!strings.Contains(logs, `"message":"upstream answered HTTP 500 Internal Server Error"`) {
			t.Errorf("the failed run's log line lacks its code and message:\n%s", logs)
		}
		ev := f.failed(r.Id)
		if ev.ErrorCode != "http_status" || ev.ErrorMessage != deref(r.Message) || ev.HTTPStatus == nil || *ev.HTTPStatus != 500 ||
			ev.SourceID != src.Id.String() || ev.Trigger != "manual" || ev.SourceType != "rss" || !ev.StartedAt.Equal(epoch) {
			t.Errorf("ingest.failed %+v", ev)
		}
		backoff := func(failures int32, factor float64) {
			t.Helper()
			s := f.source(src.Id)
			now := f.clock.now()
			lo, hi := now.Add(time.Duration(0.9*factor*float64(time.Hour))), now.Add(time.Duration(1.1*factor*float64(time.Hour)))
			if s.ConsecutiveFailures != failures || s.LastRunStatus == nil || string(*s.LastRunStatus) != "failed" || s.NextRunAt == nil ||
				s.NextRunAt.Before(lo) || s.NextRunAt.After(hi) {
				t.Fatalf("after %d failures: consecutive_failures %d, next run in %v; want %v to %v", failures, s.ConsecutiveFailures, s.NextRunAt.Sub(now), lo.Sub(now), hi.Sub(now))
			}
		}
		backoff(1, 2)
		if len(f.cms.programCreates) != 0 {
			t.Error("a failed run created a program")
		}

		f.clock.advance(3 * time.Hour)
		r = f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Failed, 0, 0, 0, 0, 0)
		backoff(2, 4)

		// The upstream recovers.
		doc.set(200, podcastAt(images.URL))
		f.clock.advance(5 * time.Hour)
		r = f.runOnce(f.trigger(src.Id, false).Id)
		checkCounts(t, r, ingestapi.Partial, 6, 5, 0, 0, 1)
		if s := f.source(src.Id); s.ConsecutiveFailures != 0 {
			t.Errorf("consecutive_failures %d after a success", s.ConsecutiveFailures)
		}
		if n := len(f.events()); n != 3 {
			t.Errorf("%d events, want 3", n)
		}
	})
}

// TestPipelineUnreadableDocuments fails runs on documents that are not feeds, without a crash and
// with a parse_error.
func TestPipelineUnreadableDocuments(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		doc := &feedDoc{}
		up := doc.server(t)
		rss := f.createSource(rssSource("Broken", up.URL+"/feed.xml"))
		js := f.createSource(map[string]any{"name": "Broken JSON", "type": "json", "url": up.URL + "/api", "target": target(), "json_mapping": talksMapping()})
		for _, c := range []struct {
			name string
			src  ingestapi.Source
			body string
		}{
			{"malformed XML", rss, `<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title><item><title>One</item></channel>`},
			{"truncated XML", rss, string(feedtest.PodcastFeed()[:2000])},
			{"HTML page", rss, `<!doctype html><html><head><title>Not a feed</title></head><body><p>Hello</p></body></html>`},
			{"empty document", rss, ""},
			{"invalid JSON", js, `{"data": {"items": [`},
			{"JSON without the items", js, `{"data": {"things": []}}`},
		} {
			t.Run(c.name, func(t *testing.T) {
				doc.set(200, []byte(c.body))
				before, _, _, _ := f.cms.counts()
				r := f.runOnce(f.trigger(c.src.Id, true).Id)
				checkCounts(t, r, ingestapi.Failed, 0, 0, 0, 0, 0)
				if !strings.HasPrefix(deref(r.Message), "the upstream document could not be read: ") || r.HttpStatus == nil || *r.HttpStatus != 200 {
					t.Errorf("message %q http_status %v", deref(r.Message), r.HttpStatus)
				}
				if ev := f.failed(r.Id); ev.ErrorCode != "parse_error" || ev.ErrorMessage != deref(r.Message) {
					t.Errorf("ingest.failed %+v", ev)
				}
				if after, _, _, _ := f.cms.counts(); after != before {
					t.Errorf("a failed run created a program")
				}
			})
		}
		if s := f.source(rss.Id); s.ConsecutiveFailures != 4 {
			t.Errorf("rss source consecutive_failures %d, want 4", s.ConsecutiveFailures)
		}
	})
}

// TestRunLoop runs the worker loop: it schedules the new source, runs it, and stops when its
// context ends.
func TestRunLoop(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, func(c *setup) { c.PollInterval = 10 * time.Millisecond })
		srv := feedtest.FeedServer(t)
		src := f.createSource(rssSource("Sabah", srv.URL+"/podcast.xml"))

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.svc.Run(ctx) }()
		defer func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Run did not return after its context ended")
			}
		}()

		deadline := time.Now().Add(30 * time.Second)
		var runs []ingestapi.IngestRun
		for {
			var list ingestapi.IngestRunList
			f.do(http.MethodGet, sourcePath(src.Id, "runs"), "editor", nil).must(t, http.StatusOK, &list)
			runs = list.Items
			if len(runs) == 1 && runs[0].Status != ingestapi.Queued && runs[0].Status != ingestapi.Running {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the run did not finish: %+v", runs)
			}
			time.Sleep(10 * time.Millisecond)
		}
		r := runs[0]
		if r.Trigger != ingestapi.Schedule || r.TriggeredBy != nil {
			t.Errorf("run trigger %s by %v, want schedule", r.Trigger, r.TriggeredBy)
		}
		checkCounts(t, r, ingestapi.Partial, 6, 5, 0, 0, 1)
		f.checkCompleted(src, r)
		if s := f.source(src.Id); s.NextRunAt == nil || !s.NextRunAt.After(epoch.Add(50*time.Minute)) {
			t.Errorf("next run %v, want about an hour on", s.NextRunAt)
		}

		// A manual run wakes the loop at once (the clock stands still, so nothing else is due).
		queued := f.trigger(src.Id, true)
		for {
			if got := f.getRun(queued.Id); got.Status != ingestapi.Queued && got.Status != ingestapi.Running {
				checkCounts(t, got, ingestapi.Partial, 6, 0, 0, 5, 1)
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the manual run did not finish")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n, _ := f.svc.read.Run.Query().Count(context.Background()); n != 2 {
			t.Errorf("%d runs, want 2", n)
		}
	})
}
