package discovery

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb/episode"
	"github.com/mediamesh/mediamesh/ent/discoverydb/program"
	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/admission"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// Engagement ingestion (recordEngagement): a batch of plays, views and completions is checked,
// resolved against the read model (the program of each episode, which keys the event) and written
// to the discovery outbox as engagement.recorded events in one transaction, then answered 202. The
// counting happens in the consumer of discovery.events (engagement_apply.go), never on the request.

const (
	// maxFutureSkew is how far ahead of the server's clock an event's occurred_at may be.
	maxFutureSkew = 5 * time.Minute
	// maxEventAge is the age beyond which an event is taken but not counted.
	maxEventAge = 7 * 24 * time.Hour
)

// engagementNamespace is the UUID v5 namespace of engagement event ids: the id of an event is a
// hash of its caller and the id the client gave it, so a replay by the same caller has the same
// id (and the consumer's inbox applies it once), while two callers cannot collide.
var engagementNamespace = uuid.MustParse("5b0b8f1e-6f73-4c55-9a0f-3b1d7a0e9c21")

// crawlers matches the User-Agent of robots, crawlers, link previews, headless browsers and
// scripting tools, whose events are taken and dropped; an empty one too (every browser and player
// sends one). HTTP libraries that apps embed (OkHttp, CFNetwork, ...) are not in it.
var crawlers = regexp.MustCompile(`(?i)bot\b|bot/|crawl|spider|slurp|scrape|headless|phantomjs|facebookexternalhit|embedly|python-requests|python-urllib|curl/|wget/|go-http-client|libwww|pingdom|uptimerobot|lighthouse|^\s*$`)

// IsCrawler reports whether userAgent looks like a robot's (an empty one does).
func IsCrawler(userAgent string) bool { return crawlers.MatchString(userAgent) }

type userAgentKey struct{}

// withUserAgent keeps each request's User-Agent in its context, for recordEngagement's crawler
// check (the strict handlers see only the context).
func withUserAgent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userAgentKey{}, r.UserAgent())))
	})
}

// userAgent returns the request's User-Agent; ok is false outside an HTTP request (a direct call).
func userAgent(ctx context.Context) (ua string, ok bool) {
	ua, ok = ctx.Value(userAgentKey{}).(string)
	return ua, ok
}

// RecordEngagement implements discoveryapi.StrictServerInterface.
func (s *Service) RecordEngagement(ctx context.Context, req discoveryapi.RecordEngagementRequestObject) (discoveryapi.RecordEngagementResponseObject, error) {
	if req.Body == nil {
		return nil, apierror.BadRequest("the body must be a batch of events", apierror.FieldError{Field: "body", Message: "is required", Code: "required"})
	}
	now := s.now().UTC()
	if err := checkEngagement(req.Body, now); err != nil {
		return nil, err
	}
	if ua, ok := userAgent(ctx); ok && IsCrawler(ua) {
		return discoveryapi.RecordEngagement202JSONResponse{Accepted: 0}, nil
	}
	var userID *string
	actor := "client:" + req.Body.ClientId
	if p, ok := authn.FromContext(ctx); ok && p.Subject != "" {
		if _, err := uuid.Parse(p.Subject); err == nil {
			id := p.Subject
			userID, actor = &id, "user:"+p.Subject
		}
	}
	sum := sha256.Sum256([]byte(req.Body.ClientId))
	clientKey := hex.EncodeToString(sum[:16])
	programs, err := s.programsOf(ctx, req.Body.Events)
	if err != nil {
		return nil, err
	}
	traceID := telemetry.TraceID(ctx)
	seen := make(map[uuid.UUID]bool, len(req.Body.Events))
	evs := make([]outbox.Event, 0, len(req.Body.Events))
	for _, e := range req.Body.Events {
		programID, ok := programs[e.ContentId]
		at := now
		if e.OccurredAt != nil {
			at = e.OccurredAt.UTC()
		}
		if !ok || seen[e.EventId] || now.Sub(at) > maxEventAge {
			continue // not published, repeated in the batch, or too old to count
		}
		seen[e.EventId] = true
		ev := &discoveryevents.EngagementRecorded{
			EventID:     uuid.NewSHA1(engagementNamespace, []byte(actor+"\x00"+e.EventId.String())).String(),
			OccurredAt:  at.Truncate(time.Millisecond),
			AggregateID: programID.String(),
			TraceID:     traceID,
			Action:      string(e.Type),
			ContentType: string(e.ContentType),
			ContentID:   e.ContentId.String(),
			UserID:      userID,
			ClientKey:   clientKey,
			ReceivedAt:  now.Truncate(time.Millisecond),
		}
		if e.PositionSeconds != nil {
			pos := int(*e.PositionSeconds)
			ev.PositionSeconds = &pos
		}
		evs = append(evs, ev)
	}
	accepted := 0
	// A replay of a batch meets its events in the outbox (event_id is unique there): they are left
	// out. The first check reads committed rows on a read connection, so the one writer (SQLite
	// has one) only inserts; should a concurrent request write one of them between the check and
	// the insert, the unique index refuses it and the transaction runs again, checking inside it.
	// (Once sent rows are pruned, the consumer's inbox still applies each event once.)
	fresh, err := s.notInOutbox(ctx, s.db.Reads(), evs, engagementEventID)
	if err != nil {
		return nil, fmt.Errorf("record %d engagement events: %w", len(evs), err)
	}
	evs = fresh
	// What is left is waiting for the writer: a gateway's bulkhead may start the next post meanwhile.
	admission.Release(ctx)
	for attempt := 0; len(evs) > 0; attempt++ {
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			fresh := evs
			if attempt > 0 {
				var err error
				if fresh, err = s.notInOutbox(ctx, tx, evs, engagementEventID); err != nil {
					return err
				}
			}
			accepted = len(fresh)
			return outbox.AppendAll(ctx, tx, s.db, fresh)
		})
		if err == nil {
			break
		}
		if attempt > 0 || !database.IsUniqueViolation(err) {
			return nil, fmt.Errorf("record %d engagement events: %w", len(evs), err)
		}
	}
	return discoveryapi.RecordEngagement202JSONResponse{Accepted: int32(accepted)}, nil
}

func engagementEventID(ev outbox.Event) string {
	return ev.(*discoveryevents.EngagementRecorded).EventID
}

// querier is a transaction or a pool.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// notInOutbox returns the events of evs (whose ids id tells) that the outbox does not hold, as q
// sees it.
func (s *Service) notInOutbox(ctx context.Context, q querier, evs []outbox.Event, id func(outbox.Event) string) ([]outbox.Event, error) {
	if len(evs) == 0 {
		return evs, nil
	}
	args := make([]any, len(evs))
	for i, ev := range evs {
		args[i] = id(ev)
	}
	stmt := "SELECT event_id FROM outbox WHERE event_id IN (?" + strings.Repeat(", ?", len(evs)-1) + ")"
	rows, err := q.QueryContext(ctx, s.db.Rebind(stmt), args...)
	if err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	defer rows.Close()
	known := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		known[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(known) == 0 {
		return evs, nil
	}
	fresh := make([]outbox.Event, 0, len(evs)-len(known))
	for _, ev := range evs {
		if !known[id(ev)] {
			fresh = append(fresh, ev)
		}
	}
	return fresh, nil
}

// checkEngagement applies the rules the schema cannot say, naming the field at fault.
func checkEngagement(b *discoveryapi.EngagementBatch, now time.Time) error {
	if len(b.Events) == 0 || len(b.Events) > 100 {
		return apierror.Validation("events: must hold 1 to 100 events", apierror.FieldError{Field: "events", Message: "must hold 1 to 100 events", Code: "size"})
	}
	var fields []apierror.FieldError
	for i, e := range b.Events {
		at := fmt.Sprintf("events[%d].", i)
		switch e.Type {
		case discoveryapi.Play, discoveryapi.Complete:
			if e.ContentType != discoveryapi.EngagementEventContentTypeEpisode {
				fields = append(fields, apierror.FieldError{Field: at + "content_type", Message: "play and complete are about episodes", Code: "invalid"})
			}
		case discoveryapi.View:
			if e.PositionSeconds != nil {
				fields = append(fields, apierror.FieldError{Field: at + "position_seconds", Message: "goes with play and complete only", Code: "invalid"})
			}
		default:
			fields = append(fields, apierror.FieldError{Field: at + "type", Message: "must be one of view, play, complete", Code: "enum"})
		}
		if e.ContentType != discoveryapi.EngagementEventContentTypeEpisode && e.ContentType != discoveryapi.EngagementEventContentTypeProgram {
			fields = append(fields, apierror.FieldError{Field: at + "content_type", Message: "must be one of program, episode", Code: "enum"})
		}
		if e.OccurredAt != nil && e.OccurredAt.Sub(now) > maxFutureSkew {
			fields = append(fields, apierror.FieldError{Field: at + "occurred_at", Message: "is in the future", Code: "invalid"})
		}
		if e.PositionSeconds != nil && (*e.PositionSeconds < 0 || *e.PositionSeconds > 172800) {
			fields = append(fields, apierror.FieldError{Field: at + "position_seconds", Message: "must be between 0 and 172800", Code: "range"})
		}
		if e.EventId == uuid.Nil {
			fields = append(fields, apierror.FieldError{Field: at + "event_id", Message: "must not be the nil UUID", Code: "invalid"})
		}
	}
	if len(fields) > 0 {
		return apierror.Validation(fields[0].Field+": "+fields[0].Message, fields...)
	}
	return nil
}

// programsOf returns the program of each published content item among events (a program is its
// own), from at most two queries; unknown and unpublished items are left out.
func (s *Service) programsOf(ctx context.Context, events []discoveryapi.EngagementEvent) (map[uuid.UUID]uuid.UUID, error) {
	var programIDs, episodeIDs []uuid.UUID
	for _, e := range events {
		if e.ContentType == discoveryapi.EngagementEventContentTypeEpisode {
			episodeIDs = append(episodeIDs, e.ContentId)
		} else {
			programIDs = append(programIDs, e.ContentId)
		}
	}
	out := make(map[uuid.UUID]uuid.UUID, len(events))
	if len(episodeIDs) > 0 {
		rows, err := s.read.Episode.Query().Where(episode.IDIn(episodeIDs...), ofVisibleProgram()).
			Select(episode.FieldID, episode.FieldProgramID).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read episodes: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = r.ProgramID
		}
	}
	if len(programIDs) > 0 {
		ids, err := s.read.Program.Query().Where(program.IDIn(programIDs...)).IDs(ctx)
		if err != nil {
			return nil, fmt.Errorf("read programs: %w", err)
		}
		for _, id := range ids {
			out[id] = id
		}
	}
	return out, nil
}
