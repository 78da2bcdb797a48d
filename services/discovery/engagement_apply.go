package discovery

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/erasure"
	"github.com/mediamesh/mediamesh/ent/discoverydb/follow"
	"github.com/mediamesh/mediamesh/ent/discoverydb/itemstat"
	"github.com/mediamesh/mediamesh/ent/discoverydb/watch"
	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// Counting engagement (engagement.recorded from discovery.events). The events of one consumer
// run are summed in memory per item (an episode's events count for its program too) and written
// with one upsert per run, inside the run's transaction with the inbox records that make each
// event count once. Decayed counts are rank keys (see ItemStatRecord): a weight w at time t adds
// w·2^(t/h) to a sum kept as its logarithm, so adding is a log-sum-exp, no clock is read, events
// may arrive in any order, and ordering by the key is ordering by the count decayed to any
// instant. The decayed count now is exp(key − now·ln2/h).

// Half-lives of the decayed counts.
const (
	halfLifeHour = time.Hour
	halfLifeDay  = 24 * time.Hour
	halfLifeWeek = 7 * 24 * time.Hour
)

// engagementWeight is what an event of action adds to an item's weighted counts.
func engagementWeight(action string) float64 {
	switch action {
	case discoveryevents.EngagementActionPlay:
		return 2
	case discoveryevents.EngagementActionComplete:
		return 3
	}
	return 1
}

// rankKey is the rank key of weight w at t with half-life h.
func rankKey(w float64, t time.Time, h time.Duration) float64 {
	return math.Log(w) + float64(t.UnixMilli())/1000*math.Ln2/h.Seconds()
}

// decayed is the count of rank key k decayed to now.
func decayed(k float64, now time.Time, h time.Duration) float64 {
	return math.Exp(k - float64(now.UnixMilli())/1000*math.Ln2/h.Seconds())
}

// negInf is the rank key of no engagement.
var negInf = math.Inf(-1)

// logAddExp is ln(e^a + e^b), without overflow; -Inf is the empty sum.
func logAddExp(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// itemDelta is what a run adds to one item's counts.
type itemDelta struct {
	contentType             string
	programID               uuid.UUID
	views, plays, completes int64
	total                   float64
	hour, day, week         float64 // rank keys of the run's events alone
	lastAt                  time.Time
}

func (d *itemDelta) add(action string, at time.Time) {
	w := engagementWeight(action)
	switch action {
	case discoveryevents.EngagementActionPlay:
		d.plays++
	case discoveryevents.EngagementActionComplete:
		d.completes++
	default:
		d.views++
	}
	d.total += w
	d.hour = logAddExp(d.hour, rankKey(w, at, halfLifeHour))
	d.day = logAddExp(d.day, rankKey(w, at, halfLifeDay))
	d.week = logAddExp(d.week, rankKey(w, at, halfLifeWeek))
	if at.After(d.lastAt) {
		d.lastAt = at
	}
}

// watchDelta is the newest play or completion of a user in an episode within a run.
type watchDelta struct {
	user, episode, program uuid.UUID
	position               int32
	completed              bool
	at                     time.Time
}

// engagementRun gathers the engagement events of one consumer run.
type engagementRun struct {
	items   map[uuid.UUID]*itemDelta
	watches map[[2]uuid.UUID]*watchDelta // by user, episode
	// popularity are the popularity.changed events of the items whose total reached a new power
	// of two in the run, for the outbox.
	popularity []outbox.Event
}

// popularityNamespace is the UUID v5 namespace of popularity.changed event ids (an item and the
// power of two it reached).
var popularityNamespace = uuid.MustParse("0f6c1e2d-9b8a-4c7d-8e5f-4a3b2c1d0e9f")

// popularityLevel is the power of two a weighted total has reached (-1 below 1).
func popularityLevel(total float64) int {
	if total < 1 {
		return -1
	}
	return int(math.Floor(math.Log2(total)))
}

func popularityEventID(ev outbox.Event) string {
	return ev.(*discoveryevents.PopularityChanged).EventID
}

func (r *engagementRun) empty() bool { return r == nil || (len(r.items) == 0 && len(r.watches) == 0) }

// engagement adds e to the run.
func (p *projection) engagement(_ context.Context, e *discoveryevents.EngagementRecorded) error {
	contentID, err := uuid.Parse(e.ContentID)
	if err != nil {
		return fmt.Errorf("content_id %q: %w", e.ContentID, err)
	}
	programID, err := uuid.Parse(e.AggregateID)
	if err != nil {
		return fmt.Errorf("aggregate_id %q: %w", e.AggregateID, err)
	}
	if e.ContentType != discoveryevents.EngagementContentTypeProgram && e.ContentType != discoveryevents.EngagementContentTypeEpisode {
		return nil // a kind of content this version does not count
	}
	r := p.eng
	if r.items == nil {
		r.items, r.watches = map[uuid.UUID]*itemDelta{}, map[[2]uuid.UUID]*watchDelta{}
	}
	at := e.OccurredAt.UTC()
	item := func(id uuid.UUID, contentType string) *itemDelta {
		d := r.items[id]
		if d == nil {
			inf := math.Inf(-1)
			d = &itemDelta{contentType: contentType, programID: programID, hour: inf, day: inf, week: inf}
			r.items[id] = d
		}
		return d
	}
	item(contentID, e.ContentType).add(e.Action, at)
	if e.ContentType == discoveryevents.EngagementContentTypeEpisode {
		item(programID, discoveryevents.EngagementContentTypeProgram).add(e.Action, at)
		if e.UserID != nil && e.Action != discoveryevents.EngagementActionView {
			user, err := uuid.Parse(*e.UserID)
			if err != nil {
				return fmt.Errorf("user_id %q: %w", *e.UserID, err)
			}
			k := [2]uuid.UUID{user, contentID}
			if w := r.watches[k]; w == nil || !at.Before(w.at) {
				w = &watchDelta{user: user, episode: contentID, program: programID, completed: e.Action == discoveryevents.EngagementActionComplete, at: at}
				if e.PositionSeconds != nil {
					w.position = int32(min(max(*e.PositionSeconds, 0), 172800))
				}
				r.watches[k] = w
			}
		}
	}
	return nil
}

// flushEngagement writes what the run gathered: one upsert of the items' counts and one of the
// users' positions, leaving out the positions of users whose history was erased after them.
func (p *projection) flushEngagement(ctx context.Context) error {
	r := p.eng
	if r.empty() {
		return nil
	}
	if err := p.flushItems(ctx, r.items); err != nil {
		return err
	}
	return p.flushWatches(ctx, r.watches)
}

// upsertChunk bounds the rows of one multi-row upsert (13 parameters a row).
const upsertChunk = 200

func (p *projection) flushItems(ctx context.Context, items map[uuid.UUID]*itemDelta) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(items))
	for id := range items {
		ids = append(ids, id)
	}
	stored := map[uuid.UUID]*discoverydb.ItemStat{}
	for start := 0; start < len(ids); start += 500 {
		rows, err := p.c.ItemStat.Query().Where(itemstat.IDIn(ids[start:min(start+500, len(ids))]...)).All(ctx)
		if err != nil {
			return fmt.Errorf("read item counts: %w", err)
		}
		for _, row := range rows {
			stored[row.ID] = row
		}
	}
	builders := make([]*discoverydb.ItemStatCreate, 0, len(ids))
	for _, id := range ids {
		d := items[id]
		before := 0.0
		if old := stored[id]; old != nil {
			before = old.Total
			d.views += old.Views
			d.plays += old.Plays
			d.completes += old.Completes
			d.total += old.Total
			d.hour, d.day, d.week = logAddExp(d.hour, old.HourKey), logAddExp(d.day, old.DayKey), logAddExp(d.week, old.WeekKey)
			if old.LastAt.After(d.lastAt) {
				d.lastAt = old.LastAt
			}
		}
		if level := popularityLevel(d.total); level > popularityLevel(before) {
			p.eng.popularity = append(p.eng.popularity, &discoveryevents.PopularityChanged{
				EventID:     uuid.NewSHA1(popularityNamespace, fmt.Appendf(id[:len(id):len(id)], "%d", level)).String(),
				OccurredAt:  d.lastAt.Truncate(time.Millisecond),
				AggregateID: d.programID.String(),
				ContentType: d.contentType,
				ContentID:   id.String(),
				Popularity:  d.total,
			})
		}
		builders = append(builders, p.c.ItemStat.Create().SetID(id).SetContentType(itemstat.ContentType(d.contentType)).
			SetProgramID(d.programID).SetViews(d.views).SetPlays(d.plays).SetCompletes(d.completes).SetTotal(d.total).
			SetHourKey(d.hour).SetDayKey(d.day).SetWeekKey(d.week).SetLastAt(d.lastAt))
	}
	for start := 0; start < len(builders); start += upsertChunk {
		err := p.c.ItemStat.CreateBulk(builders[start:min(start+upsertChunk, len(builders))]...).
			OnConflictColumns(itemstat.FieldID).UpdateNewValues().Exec(ctx)
		if err != nil {
			return fmt.Errorf("write item counts: %w", err)
		}
	}
	return nil
}

func (p *projection) flushWatches(ctx context.Context, watches map[[2]uuid.UUID]*watchDelta) error {
	if len(watches) == 0 {
		return nil
	}
	users := map[uuid.UUID]bool{}
	var userIDs []uuid.UUID
	for k := range watches {
		if !users[k[0]] {
			users[k[0]] = true
			userIDs = append(userIDs, k[0])
		}
	}
	erased := map[uuid.UUID]*discoverydb.Erasure{}
	rows, err := p.c.Erasure.Query().Where(erasure.IDIn(userIDs...)).All(ctx)
	if err != nil {
		return fmt.Errorf("read erasures: %w", err)
	}
	for _, e := range rows {
		erased[e.ID] = e
	}
	var ids []uuid.UUID
	for k, w := range watches {
		if e := erased[w.user]; e != nil && (e.AccountDeleted || !w.at.After(e.ErasedAt)) {
			delete(watches, k)
			continue
		}
		ids = append(ids, watchID(w.user, w.episode))
	}
	if len(ids) == 0 {
		return nil
	}
	newer := map[uuid.UUID]bool{} // stored positions newer than the run's
	stored, err := p.c.Watch.Query().Where(watch.IDIn(ids...)).All(ctx)
	if err != nil {
		return fmt.Errorf("read positions: %w", err)
	}
	for _, s := range stored {
		if w := watches[[2]uuid.UUID{s.UserID, s.EpisodeID}]; w != nil && s.PlayedAt.After(w.at) {
			newer[s.ID] = true
		}
	}
	var builders []*discoverydb.WatchCreate
	for _, w := range watches {
		id := watchID(w.user, w.episode)
		if newer[id] {
			continue
		}
		builders = append(builders, p.c.Watch.Create().SetID(id).SetUserID(w.user).SetEpisodeID(w.episode).SetProgramID(w.program).
			SetPositionSeconds(w.position).SetCompleted(w.completed).SetPlayedAt(w.at))
	}
	for start := 0; start < len(builders); start += upsertChunk {
		err := p.c.Watch.CreateBulk(builders[start:min(start+upsertChunk, len(builders))]...).
			OnConflictColumns(watch.FieldID).UpdateNewValues().Exec(ctx)
		if err != nil {
			return fmt.Errorf("write positions: %w", err)
		}
	}
	return nil
}

// watchNamespace is the UUID v5 namespace of the ids of positions (one per user and episode).
var watchNamespace = uuid.MustParse("c3d3f6a2-2f1e-4b8e-8a53-6d0d2c4b7e15")

func watchID(user, episode uuid.UUID) uuid.UUID {
	return uuid.NewSHA1(watchNamespace, append(user[:len(user):len(user)], episode[:]...))
}

// tokensRevoked applies user.tokens_revoked: a deleted account loses its history and follows,
// and its events are never tied to it again (replays included). Other reasons change nothing.
func (p *projection) tokensRevoked(ctx context.Context, e *authevents.UserTokensRevoked) error {
	if e.Reason != authevents.RevocationReasonDeleted {
		return nil
	}
	user, err := uuid.Parse(e.UserID)
	if err != nil {
		return fmt.Errorf("user_id %q: %w", e.UserID, err)
	}
	// Positions of the user gathered earlier in this run go too.
	if r := p.eng; r != nil {
		for k := range r.watches {
			if k[0] == user {
				delete(r.watches, k)
			}
		}
	}
	return eraseUser(ctx, p.c, user, e.RevokedAt.UTC(), true)
}

// eraseUser deletes user's positions (and, for a deleted account, its follows) and records the
// erasure, which a replay keeps: events of the user that occurred up to at (any, once the
// account is deleted) are never tied to it again.
func eraseUser(ctx context.Context, c *discoverydb.Client, user uuid.UUID, at time.Time, accountDeleted bool) error {
	if _, err := c.Watch.Delete().Where(watch.UserID(user)).Exec(ctx); err != nil {
		return fmt.Errorf("delete the history of %s: %w", user, err)
	}
	if accountDeleted {
		if _, err := c.Follow.Delete().Where(follow.UserID(user)).Exec(ctx); err != nil {
			return fmt.Errorf("delete the follows of %s: %w", user, err)
		}
	}
	old, err := c.Erasure.Get(ctx, user)
	switch {
	case discoverydb.IsNotFound(err):
		return c.Erasure.Create().SetID(user).SetErasedAt(at).SetAccountDeleted(accountDeleted).Exec(ctx)
	case err != nil:
		return fmt.Errorf("read the erasure of %s: %w", user, err)
	}
	u := c.Erasure.UpdateOneID(user).SetAccountDeleted(old.AccountDeleted || accountDeleted)
	if at.After(old.ErasedAt) {
		u.SetErasedAt(at)
	}
	return u.Exec(ctx)
}

// rankingsEvery is how often at most counted engagement invalidates the cached rankings.
const rankingsEvery = time.Second

// invalidateRankings invalidates the cached rankings (trending, popular: the rankings scope) at
// most once every rankingsEvery: at once when the last time was longer ago, else once at the
// end of the interval, so under a stream of events the rankings are cached and at most a second
// behind the counts.
func (s *Service) invalidateRankings(ctx context.Context) {
	if s.cache == nil {
		return
	}
	s.rankingsMu.Lock()
	defer s.rankingsMu.Unlock()
	if s.rankingsPending {
		return
	}
	wait := rankingsEvery - s.now().Sub(s.rankingsAt)
	ns := cache.Scope(cacheNamespace, "rankings", "")
	if wait <= 0 {
		s.rankingsAt = s.now()
		if err := s.cache.Invalidate(ctx, ns); err != nil {
			s.log.WarnContext(ctx, "could not invalidate the cached rankings; they expire with their TTL", "error", err)
		}
		return
	}
	s.rankingsPending = true
	ctx = context.WithoutCancel(ctx)
	time.AfterFunc(wait, func() {
		s.rankingsMu.Lock()
		s.rankingsPending, s.rankingsAt = false, s.now()
		s.rankingsMu.Unlock()
		if err := s.cache.Invalidate(ctx, ns); err != nil {
			s.log.WarnContext(ctx, "could not invalidate the cached rankings; they expire with their TTL", "error", err)
		}
	})
}
