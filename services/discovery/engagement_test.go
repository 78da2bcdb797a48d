package discovery

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

func TestRankKeys(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	// Two plays a day apart, read with a one-day half-life: the older counts half.
	k := logAddExp(rankKey(2, now, halfLifeDay), rankKey(2, now.Add(-24*time.Hour), halfLifeDay))
	if got := decayed(k, now, halfLifeDay); math.Abs(got-3) > 1e-6 {
		t.Fatalf("decayed count = %v, want 3", got)
	}
	// A day later it is half of that, whatever order the events were added in.
	k2 := logAddExp(rankKey(2, now.Add(-24*time.Hour), halfLifeDay), rankKey(2, now, halfLifeDay))
	if got := decayed(k2, now.Add(24*time.Hour), halfLifeDay); math.Abs(got-1.5) > 1e-6 {
		t.Fatalf("decayed count a day later = %v, want 1.5", got)
	}
	if got := logAddExp(negInf, 1); got != 1 {
		t.Fatalf("logAddExp(-Inf, 1) = %v", got)
	}
}

func TestIsCrawler(t *testing.T) {
	for ua, want := range map[string]bool{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": true,
		"Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36":       true,
		"facebookexternalhit/1.1": true,
		"curl/8.5.0":              true,
		"":                        true,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari": false,
		"MediaMeshPlayer/2.3 (Android 14)":                                               false,
		"okhttp/4.12.0":                                                                  false,
		"python-requests/2.32.3":                                                         true,
	} {
		if got := IsCrawler(ua); got != want {
			t.Errorf("IsCrawler(%q) = %v, want %v", ua, got, want)
		}
	}
}

// engagementFixture is a discovery service with a catalogue, whose engagement is recorded through
// RecordEngagement and counted by feeding the outbox's rows back as the relay would.
type engagementFixture struct {
	*fixture
}

func (f *engagementFixture) record(ctx context.Context, user string, events ...discoveryapi.EngagementEvent) int32 {
	f.t.Helper()
	if user != "" {
		ctx = authn.WithPrincipal(ctx, &authn.Principal{Subject: user, Roles: []string{"USER"}})
	}
	resp, err := f.svc.RecordEngagement(ctx, discoveryapi.RecordEngagementRequestObject{Body: &discoveryapi.EngagementBatch{ClientId: "test-client-" + user, Events: events}})
	if err != nil {
		f.t.Fatalf("RecordEngagement: %v", err)
	}
	return resp.(discoveryapi.RecordEngagement202JSONResponse).Accepted
}

// count feeds the unsent outbox rows to the consumer as one run, and marks them sent.
func (f *engagementFixture) count() {
	f.t.Helper()
	recs, err := outbox.Unsent(f.t.Context(), f.db, 10000)
	if err != nil {
		f.t.Fatal(err)
	}
	msgs := make([]eventbus.Message, len(recs))
	ids := make([]int64, len(recs))
	for i, r := range recs {
		msgs[i], ids[i] = outbox.Message(r), r.ID
	}
	if len(msgs) == 0 {
		return
	}
	if err := f.svc.HandleBatch(f.t.Context(), msgs); err != nil {
		f.t.Fatalf("HandleBatch: %v", err)
	}
	if err := outbox.MarkSent(f.t.Context(), f.db, ids...); err != nil {
		f.t.Fatal(err)
	}
}

func play(contentID string, at time.Time, pos int32) discoveryapi.EngagementEvent {
	return discoveryapi.EngagementEvent{EventId: uuid.Must(uuid.NewV7()), Type: discoveryapi.Play, ContentType: discoveryapi.EngagementEventContentTypeEpisode,
		ContentId: uuid.MustParse(contentID), OccurredAt: &at, PositionSeconds: &pos}
}

func TestEngagement(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := &engagementFixture{fixture: newFixture(t, db)}
		now := time.Now().UTC()
		f.svc.now = func() time.Time { return now }
		ctx := t.Context()
		news := newID()
		classic, hit, other := newID(), newID(), newID()
		f.feed(categoryUpsertedMsg(t, news, "news", 1, map[string]string{"en": "News"}))
		for _, p := range []struct{ id, title string }{{classic, "Classic"}, {hit, "Hit"}, {other, "Other"}} {
			s := programSnap(p.id, 1, p.title, "en")
			if p.id != other {
				s.CategoryID = &news
			}
			f.feed(publishedMsg(t, s))
		}
		classicEp, hitEp, hitEp2 := newID(), newID(), newID()
		f.feed(publishedMsg(t, episodeSnap(classicEp, classic, 1, nil, 1, base)),
			publishedMsg(t, episodeSnap(hitEp, hit, 1, nil, 1, base)),
			publishedMsg(t, episodeSnap(hitEp2, hit, 1, nil, 2, base.Add(time.Hour))))

		// The classic was played 40 times six days ago, the hit 6 times in the last hour.
		var old []discoveryapi.EngagementEvent
		for i := range 40 {
			old = append(old, play(classicEp, now.Add(-6*24*time.Hour+time.Duration(i)*time.Minute), 10))
		}
		if n := f.record(ctx, "", old...); n != 40 {
			t.Fatalf("accepted %d of 40", n)
		}
		var recent []discoveryapi.EngagementEvent
		for i := range 6 {
			recent = append(recent, play(hitEp, now.Add(-time.Duration(i)*time.Minute), 10))
		}
		// A replay of the same event by the same client, an unknown episode and a stale event
		// are taken but not counted.
		recent = append(recent, recent[0], play(newID(), now, 1), play(hitEp, now.Add(-8*24*time.Hour), 1))
		if n := f.record(ctx, "", recent...); n != 6 {
			t.Fatalf("accepted %d, want 6", n)
		}
		f.record(ctx, "", recent[0]) // sent again in a later batch
		f.count()

		var trending, popularAll discoveryapi.RankedList
		f.getJSON("/api/v1/discovery/trending", &trending)
		if len(trending.Items) != 2 || trending.Items[0].Program.Id.String() != hit || trending.Items[1].Program.Id.String() != classic {
			t.Fatalf("trending = %+v, want the hit, then the classic", trending.Items)
		}
		if trending.Items[0].Plays != 6 {
			t.Fatalf("the hit has %d plays, want 6 (replays counted once)", trending.Items[0].Plays)
		}
		f.getJSON("/api/v1/discovery/popular?period=all_time", &popularAll)
		if len(popularAll.Items) != 2 || popularAll.Items[0].Program.Id.String() != classic || popularAll.Items[0].Score != 80 {
			t.Fatalf("popular all time = %+v, want the classic first with 80", popularAll.Items)
		}
		var episodes discoveryapi.RankedList
		f.getJSON("/api/v1/discovery/trending?type=episode&limit=1", &episodes)
		if len(episodes.Items) != 1 || episodes.Items[0].Episode.Id.String() != hitEp || !episodes.Page.HasMore {
			t.Fatalf("trending episodes = %+v", episodes)
		}
		f.getJSON("/api/v1/discovery/trending?type=episode&limit=1&cursor="+*episodes.Page.NextCursor, &episodes)
		if len(episodes.Items) != 1 || episodes.Items[0].Episode.Id.String() != classicEp || episodes.Page.HasMore {
			t.Fatalf("trending episodes, page 2 = %+v", episodes)
		}
		var filtered discoveryapi.RankedList
		f.getJSON("/api/v1/discovery/popular?category=news&kind=series", &filtered)
		if len(filtered.Items) != 0 {
			t.Fatalf("popular series = %+v, want none (the programs are podcasts)", filtered.Items)
		}

		// More like this: the other news program first.
		var similar discoveryapi.SimilarPrograms
		f.getJSON("/api/v1/discovery/programs/"+hit+"/similar", &similar)
		if len(similar.Items) != 2 || similar.Items[0].Id.String() != classic {
			t.Fatalf("similar to the hit = %+v, want the classic first", similar.Items)
		}
		var similarEps discoveryapi.SimilarEpisodes
		f.getJSON("/api/v1/discovery/episodes/"+hitEp+"/similar", &similarEps)
		if len(similarEps.Items) < 2 || similarEps.Items[0].Id.String() != hitEp2 {
			t.Fatalf("similar to the hit's first episode = %+v, want its second first", similarEps.Items)
		}

		// A signed-in user: continue watching, history, feed, deletion.
		user := uuid.Must(uuid.NewV7()).String()
		uctx := authn.WithPrincipal(ctx, &authn.Principal{Subject: user, Roles: []string{"USER"}})
		f.record(ctx, user, play(hitEp, now.Add(-2*time.Minute), 300), play(classicEp, now.Add(-time.Minute), 600))
		f.count()
		cw := f.watched(uctx, "continue")
		if len(cw.Items) != 2 || cw.Items[0].Episode.Id.String() != classicEp || cw.Items[0].PositionSeconds != 600 {
			t.Fatalf("continue watching = %+v", cw.Items)
		}
		done := play(classicEp, now, 1800)
		done.Type = discoveryapi.Complete
		f.record(ctx, user, done)
		f.count()
		if cw = f.watched(uctx, "continue"); len(cw.Items) != 1 || cw.Items[0].Episode.Id.String() != hitEp {
			t.Fatalf("continue watching after completing the classic = %+v", cw.Items)
		}
		if h := f.watched(uctx, "history"); len(h.Items) != 2 || !h.Items[0].Completed {
			t.Fatalf("history = %+v", h.Items)
		}
		feed, err := f.svc.GetFeed(uctx, discoveryapi.GetFeedRequestObject{})
		if err != nil {
			t.Fatal(err)
		}
		if fd := feed.(discoveryapi.GetFeed200JSONResponse); len(fd.Items) != 0 || len(fd.Recommendations) == 0 || fd.Recommendations[0].Id.String() == other {
			t.Fatalf("feed without follows = %+v", fd)
		}
		if _, err := f.svc.FollowProgram(uctx, discoveryapi.FollowProgramRequestObject{ProgramId: uuid.MustParse(hit)}); err != nil {
			t.Fatal(err)
		}
		feed, _ = f.svc.GetFeed(uctx, discoveryapi.GetFeedRequestObject{})
		fd := feed.(discoveryapi.GetFeed200JSONResponse)
		if len(fd.Items) != 2 || fd.Items[0].Id.String() != hitEp2 {
			t.Fatalf("feed = %+v, want the hit's episodes, newest first", fd.Items)
		}
		for _, r := range fd.Recommendations {
			if r.Id.String() == hit {
				t.Fatalf("the feed recommends a followed program: %+v", fd.Recommendations)
			}
		}

		// Deleting the history empties it, and a rebuild from the events does not bring it back.
		if _, err := f.svc.DeleteHistory(uctx, discoveryapi.DeleteHistoryRequestObject{}); err != nil {
			t.Fatal(err)
		}
		if h := f.watched(uctx, "history"); len(h.Items) != 0 {
			t.Fatalf("history after deleting it = %+v", h.Items)
		}
		f.replay()
		if h := f.watched(uctx, "history"); len(h.Items) != 0 {
			t.Fatalf("history after a replay = %+v", h.Items)
		}
		var again discoveryapi.RankedList
		f.getJSON("/api/v1/discovery/popular?period=all_time", &again)
		if len(again.Items) != 2 || again.Items[0].Score != popularAll.Items[0].Score+5 || again.Items[1].Plays != popularAll.Items[1].Plays+1 {
			t.Fatalf("popular after a replay = %+v, want the counts as before (plus the user's play and completion of the classic, and play of the hit)", again.Items)
		}

		// A deleted account loses its history and follows.
		f.record(ctx, user, play(hitEp, now.Add(time.Second), 42)) // after the erasure
		f.count()
		if h := f.watched(uctx, "history"); len(h.Items) != 1 {
			t.Fatalf("history after a new play = %+v", h.Items)
		}
		id := newID()
		f.feed(message(t, &authevents.UserTokensRevoked{EventID: id, OccurredAt: now, AggregateID: user, UserID: user, RevokedAt: now, Reason: authevents.RevocationReasonDeleted}, id))
		if h := f.watched(uctx, "history"); len(h.Items) != 0 {
			t.Fatalf("history of a deleted account = %+v", h.Items)
		}
		follows, _ := f.svc.ListFollows(uctx, discoveryapi.ListFollowsRequestObject{})
		if l := follows.(discoveryapi.ListFollows200JSONResponse); len(l.Items) != 0 {
			t.Fatalf("follows of a deleted account = %+v", l.Items)
		}
		f.replay()
		if h := f.watched(uctx, "history"); len(h.Items) != 0 {
			t.Fatalf("history of a deleted account after a replay = %+v", h.Items)
		}
	})
}

// watched reads the continue-watching list or the history of the user of ctx.
func (f *engagementFixture) watched(ctx context.Context, which string) discoveryapi.WatchList {
	f.t.Helper()
	var resp any
	var err error
	if which == "continue" {
		resp, err = f.svc.ListContinueWatching(ctx, discoveryapi.ListContinueWatchingRequestObject{})
	} else {
		resp, err = f.svc.ListHistory(ctx, discoveryapi.ListHistoryRequestObject{})
	}
	if err != nil {
		f.t.Fatal(err)
	}
	switch r := resp.(type) {
	case discoveryapi.ListContinueWatching200JSONResponse:
		return discoveryapi.WatchList(r)
	case discoveryapi.ListHistory200JSONResponse:
		return discoveryapi.WatchList(r)
	}
	f.t.Fatalf("unexpected answer %T", resp)
	return discoveryapi.WatchList{}
}

// replay rebuilds the engagement from every engagement event of the outbox, as `mediamesh
// replay` does (content is not replayed here: Reset would empty it, so only the engagement
// tables and the inbox are reset by hand).
func (f *engagementFixture) replay() {
	f.t.Helper()
	ctx := f.t.Context()
	err := f.db.InTx(ctx, func(tx *sql.Tx) error {
		c := f.svc.inTx(tx)
		if _, err := c.ItemStat.Delete().Exec(ctx); err != nil {
			return err
		}
		if _, err := c.Watch.Delete().Exec(ctx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, f.db.Rebind(`DELETE FROM inbox WHERE consumer = ?`), ConsumerGroup)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	var msgs []eventbus.Message
	err = outbox.Replay(ctx, f.db, "discovery.events", func(_ context.Context, m eventbus.Message) error {
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.svc.HandleBatch(ctx, msgs); err != nil {
		f.t.Fatal(err)
	}
}

func TestRecordEngagementRules(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		prog, ep := newID(), newID()
		f.feed(publishedMsg(t, programSnap(prog, 1, "P", "en")), publishedMsg(t, episodeSnap(ep, prog, 1, nil, 1, base)))
		post := func(ua, body string) (int, string) {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/discovery/events", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", ua)
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			return rec.Code, rec.Body.String()
		}
		browser := "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
		ev := func(extra string) string {
			return `{"client_id":"abcdefgh-1","events":[{"event_id":"` + newID() + `","content_id":"` + ep + `",` + extra + `}]}`
		}
		if code, body := post(browser, ev(`"type":"play","content_type":"episode","position_seconds":5`)); code != http.StatusAccepted || !strings.Contains(body, `"accepted":1`) {
			t.Fatalf("a play: %d %s", code, body)
		}
		if code, body := post("Googlebot/2.1", ev(`"type":"play","content_type":"episode"`)); code != http.StatusAccepted || !strings.Contains(body, `"accepted":0`) {
			t.Fatalf("a crawler's play: %d %s", code, body)
		}
		for _, c := range []struct{ extra, field string }{
			{`"type":"play","content_type":"program"`, "events[0].content_type"},
			{`"type":"view","content_type":"episode","position_seconds":3`, "events[0].position_seconds"},
			{`"type":"view","content_type":"episode","occurred_at":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"`, "events[0].occurred_at"},
			{`"type":"stop","content_type":"episode"`, "events/0/type"},
		} {
			code, body := post(browser, ev(c.extra))
			if code != http.StatusUnprocessableEntity && code != http.StatusBadRequest {
				t.Fatalf("%s: %d %s", c.extra, code, body)
			}
			var p struct {
				Errors []struct{ Field string } `json:"errors"`
			}
			_ = json.Unmarshal([]byte(body), &p)
			if len(p.Errors) == 0 || !strings.Contains(p.Errors[0].Field, strings.Split(c.field, "/")[0]) {
				t.Fatalf("%s: %d %s, want the field %s named", c.extra, code, body, c.field)
			}
		}
		// The personal operations need a user.
		_, err := f.svc.ListHistory(t.Context(), discoveryapi.ListHistoryRequestObject{})
		var problem *apierror.Error
		if !errors.As(err, &problem) || problem.Status != http.StatusUnauthorized {
			t.Fatalf("ListHistory without a caller: %v", err)
		}
	})
}

// TestRecordEngagementConcurrentReplays: the same batch sent by several requests at once (a client
// retrying) is accepted once in all: the check on a read connection lets them all through, the
// outbox's unique event ids refuse all but one, and the others run again and find theirs there.
func TestRecordEngagementConcurrentReplays(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := &engagementFixture{fixture: newFixture(t, db)}
		p, ep := newID(), newID()
		f.feed(publishedMsg(t, programSnap(p, 1, "Replayed", "en")))
		f.feed(publishedMsg(t, episodeSnap(ep, p, 1, nil, 1, base)))
		now := time.Now().UTC()
		batch := make([]discoveryapi.EngagementEvent, 20)
		for i := range batch {
			batch[i] = play(ep, now.Add(-time.Duration(i)*time.Second), int32(i))
		}
		const senders = 6
		accepted := make(chan int32, senders)
		var wg sync.WaitGroup
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				accepted <- f.record(t.Context(), "", batch...)
			}()
		}
		wg.Wait()
		close(accepted)
		var total int32
		for n := range accepted {
			total += n
		}
		var rows int
		if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM outbox WHERE event_type = 'engagement.recorded'`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if total != 20 || rows != 20 {
			t.Fatalf("%d senders of the same 20 events: %d accepted, %d outbox rows; want 20 and 20", senders, total, rows)
		}
	})
}
