package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/metadatadb/category"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// fakeCMS stands in for the CMS in the unit tests of this package (the real one is in the
// end-to-end tests, integration/metadata): it keeps programs and episodes in memory, answers the
// two writes the service makes as the CMS does (merge patch, If-Match on its version, 404, 409 for
// soft-deleted content, 422 for an unknown category, tags lowercased without duplicates, an empty
// summary removes it), and hands the service each change's content event, as the CMS's outbox
// would: before its answer, or after it with eventsAfter.
type fakeCMS struct {
	t   *testing.T
	svc *Service

	mu          sync.Mutex
	items       map[uuid.UUID]*fakeItem
	eventsAfter bool // deliver the event of a PUT's change after the answer
	down        bool // answer every write as unreachable
	withheld    bool // keep events instead of delivering them (see release)
	held        []eventbus.Message
	auth        string // the Authorization header of the last write
	writes      int
}

type fakeItem struct {
	entity      string
	programID   *uuid.UUID
	title, lang string
	summary     *string
	category    *uuid.UUID
	tags        []string
	duration    *int32
	extra       cmsapi.ExtraFields
	status      cmsapi.PublicationStatus
	publishedAt *time.Time
	version     int32
	deleted     bool
}

func newFakeCMS(t *testing.T) *fakeCMS { return &fakeCMS{t: t, items: map[uuid.UUID]*fakeItem{}} }

// snapshot is the content snapshot of it.
func (it *fakeItem) snapshot(id uuid.UUID) contentevents.ContentSnapshot {
	s := contentevents.ContentSnapshot{
		ID: id.String(), Status: string(it.status), Title: it.title, Summary: it.summary, Language: it.lang,
		Tags: append([]string{}, it.tags...), Extra: []contentevents.ExtraAttribute{}, Version: int64(it.version),
	}
	if it.programID != nil {
		p := it.programID.String()
		s.ProgramID = &p
	}
	if it.category != nil {
		c := it.category.String()
		s.CategoryID = &c
	}
	if it.duration != nil {
		d := int(*it.duration)
		s.DurationSeconds = &d
	}
	if it.publishedAt != nil {
		p := *it.publishedAt
		s.PublishedAt = &p
	}
	for _, e := range it.extra {
		s.Extra = append(s.Extra, contentevents.ExtraAttribute{Key: e.Key, Value: e.Value})
	}
	return s
}

// emit hands the service a content event (or keeps it while withheld).
func (c *fakeCMS) emit(ev outbox.Event) {
	c.t.Helper()
	payload, err := outbox.Encode(ev)
	if err != nil {
		c.t.Fatal(err)
	}
	m := eventbus.Message{Topic: ev.Topic(), Key: ev.MessageKey(), Value: payload,
		Headers: map[string]string{eventbus.HeaderEventType: ev.EventType(), eventbus.HeaderEventID: uuid.Must(uuid.NewV7()).String()}}
	if c.withheld {
		c.held = append(c.held, m)
		return
	}
	if err := c.svc.HandleEvent(context.Background(), m); err != nil {
		c.t.Errorf("HandleEvent %s: %v", ev.EventType(), err)
	}
}

// release delivers the withheld events, each twice (a redelivery changes nothing).
func (c *fakeCMS) release() {
	c.t.Helper()
	c.mu.Lock()
	held := c.held
	c.held, c.withheld = nil, false
	c.mu.Unlock()
	for _, m := range append(held, held...) {
		if err := c.svc.HandleEvent(context.Background(), m); err != nil {
			c.t.Errorf("HandleEvent: %v", err)
		}
	}
}

func eventActor(by uuid.UUID) *string {
	if by == uuid.Nil {
		return nil
	}
	s := by.String()
	return &s
}

// create makes a draft program (programID nil) or episode of it, as by, and emits content.created.
func (c *fakeCMS) create(programID *uuid.UUID, title, lang string, by uuid.UUID) uuid.UUID {
	c.t.Helper()
	id := uuid.Must(uuid.NewV7())
	it := &fakeItem{entity: "program", programID: programID, title: title, lang: lang, tags: []string{}, status: cmsapi.PublicationStatusDraft, version: 1}
	if programID != nil {
		it.entity = "episode"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items[id] = it
	c.emit(&contentevents.ContentCreated{EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: time.Now(), AggregateID: id.String(),
		AggregateType: it.entity, ActorID: eventActor(by), Snapshot: it.snapshot(id)})
	return id
}

// change edits an item as a CMS PATCH by by would, and emits content.updated.
func (c *fakeCMS) change(id uuid.UUID, by uuid.UUID, edit func(*fakeItem)) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	it := c.items[id]
	edit(it)
	it.version++
	c.emit(&contentevents.ContentUpdated{EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: time.Now(), AggregateID: id.String(),
		AggregateType: it.entity, ActorID: eventActor(by), Snapshot: it.snapshot(id)})
}

// publish publishes an item at at, and emits content.published.
func (c *fakeCMS) publish(id uuid.UUID, at time.Time, by uuid.UUID) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	it := c.items[id]
	it.status, it.publishedAt = cmsapi.PublicationStatusPublished, &at
	it.version++
	c.emit(&contentevents.ContentPublished{EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: time.Now(), AggregateID: id.String(),
		AggregateType: it.entity, ActorID: eventActor(by), Snapshot: it.snapshot(id), PublishedAt: at})
}

// remove soft-deletes (soft) or purges an item, and emits content.deleted.
func (c *fakeCMS) remove(id uuid.UUID, soft bool) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	it := c.items[id]
	it.version++
	it.deleted = true
	if !soft {
		delete(c.items, id)
	}
	c.emit(&contentevents.ContentDeleted{EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: time.Now(), AggregateID: id.String(),
		AggregateType: it.entity, Soft: soft, Version: int64(it.version)})
}

// get returns a copy of an item.
func (c *fakeCMS) get(id uuid.UUID) fakeItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	return *c.items[id]
}

// problemBody is a problem+json body.
func problemBody(status int, detail string, fields ...map[string]string) []byte {
	b, _ := json.Marshal(map[string]any{"status": status, "detail": detail, "errors": fields})
	return b
}

// write runs the common part of a PATCH: it answers the status and body of a refusal, or applies
// edit and returns the item (with the event to emit when it changed).
func (c *fakeCMS) write(ctx context.Context, id uuid.UUID, entity string, ifMatch *string, cat *uuid.UUID, editors []cmsapi.RequestEditorFn, edit func(*fakeItem)) (*fakeItem, int, []byte, func(), error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, "http://cms.internal/", nil)
	for _, e := range editors {
		if err := e(ctx, req); err != nil {
			return nil, 0, nil, nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auth = req.Header.Get("Authorization")
	if c.down {
		return nil, 0, nil, nil, errors.New("dial tcp: connection refused")
	}
	c.writes++
	it, ok := c.items[id]
	if !ok || it.entity != entity {
		return nil, http.StatusNotFound, problemBody(404, "not found"), nil, nil
	}
	if it.deleted {
		return nil, http.StatusConflict, problemBody(409, "the "+entity+" is deleted"), nil, nil
	}
	if ifMatch != nil && *ifMatch != "*" && strings.Trim(*ifMatch, `"`) != itoa(it.version) {
		return nil, http.StatusPreconditionFailed, problemBody(412, "stale"), nil, nil
	}
	if cat != nil {
		if ok, err := c.svc.read.Category.Query().Where(category.IDEQ(*cat)).Exist(ctx); err != nil || !ok {
			return nil, http.StatusUnprocessableEntity, problemBody(422, "no such category", map[string]string{"field": "category_id", "message": "no such category", "code": "not_found"}), nil, nil
		}
	}
	before := it.snapshot(id)
	edit(it)
	if it.summary != nil && *it.summary == "" {
		it.summary = nil
	}
	var emit func()
	if after := it.snapshot(id); !sameSnapshot(before, after) {
		it.version++
		ev := &contentevents.ContentUpdated{EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: time.Now(), AggregateID: id.String(),
			AggregateType: it.entity, ActorID: eventActor(actorOf(req)), Snapshot: it.snapshot(id)}
		emit = func() { c.emit(ev) }
		if !c.eventsAfter {
			emit()
			emit = nil
		}
	}
	cp := *it
	return &cp, http.StatusOK, nil, emit, nil
}

// actorOf is who the fixture's token names.
func actorOf(req *http.Request) uuid.UUID {
	if p, ok := verifier[strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")]; ok {
		return uuid.MustParse(p.Subject)
	}
	return uuid.Nil
}

func sameSnapshot(a, b contentevents.ContentSnapshot) bool {
	a.Version, b.Version = 0, 0
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func itoa(v int32) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// cmsTags normalises tags as the CMS does: lowercase, duplicates dropped.
func cmsTags(in []string) []string {
	out := []string{}
	for _, t := range in {
		t = strings.ToLower(t)
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (c *fakeCMS) UpdateProgramWithResponse(ctx context.Context, id cmsapi.ProgramId, params *cmsapi.UpdateProgramParams, body cmsapi.UpdateProgramJSONRequestBody, editors ...cmsapi.RequestEditorFn) (*cmsapi.UpdateProgramResponse, error) {
	var cat *uuid.UUID
	if v, err := body.CategoryId.Get(); err == nil {
		cat = &v
	}
	it, status, problem, emit, err := c.write(ctx, id, "program", params.IfMatch, cat, editors, func(it *fakeItem) {
		if body.Title != nil {
			it.title = *body.Title
		}
		if body.Summary != nil {
			it.summary = body.Summary
		}
		if body.Language != nil {
			it.lang = *body.Language
		}
		if body.Tags != nil {
			it.tags = cmsTags(*body.Tags)
		}
		if body.CategoryId.IsSpecified() {
			it.category = cat
		}
		if body.Extra != nil {
			it.extra = *body.Extra
		}
	})
	if err != nil {
		return nil, err
	}
	resp := &cmsapi.UpdateProgramResponse{Body: problem, HTTPResponse: &http.Response{StatusCode: status, Header: http.Header{}}}
	if it != nil {
		extra := append(cmsapi.ExtraFields{}, it.extra...)
		resp.JSON200 = &cmsapi.Program{Id: id, Title: it.title, Summary: it.summary, Language: it.lang, CategoryId: it.category,
			Tags: it.tags, Extra: &extra, Status: it.status, PublishedAt: it.publishedAt, Version: it.version}
	}
	if emit != nil {
		defer emit()
	}
	return resp, nil
}

func (c *fakeCMS) UpdateEpisodeWithResponse(ctx context.Context, id cmsapi.EpisodeId, params *cmsapi.UpdateEpisodeParams, body cmsapi.UpdateEpisodeJSONRequestBody, editors ...cmsapi.RequestEditorFn) (*cmsapi.UpdateEpisodeResponse, error) {
	it, status, problem, emit, err := c.write(ctx, id, "episode", params.IfMatch, nil, editors, func(it *fakeItem) {
		if body.Title != nil {
			it.title = *body.Title
		}
		if body.Summary != nil {
			it.summary = body.Summary
		}
		if body.Language != nil {
			it.lang = *body.Language
		}
		if body.DurationSeconds.IsSpecified() {
			if v, err := body.DurationSeconds.Get(); err == nil {
				it.duration = &v
			} else {
				it.duration = nil
			}
		}
		if body.Extra != nil {
			it.extra = *body.Extra
		}
	})
	if err != nil {
		return nil, err
	}
	resp := &cmsapi.UpdateEpisodeResponse{Body: problem, HTTPResponse: &http.Response{StatusCode: status, Header: http.Header{}}}
	if it != nil {
		extra := append(cmsapi.ExtraFields{}, it.extra...)
		resp.JSON200 = &cmsapi.Episode{Id: id, ProgramId: *it.programID, Title: it.title, Summary: it.summary, Language: it.lang,
			DurationSeconds: it.duration, Extra: &extra, Status: it.status, PublishedAt: it.publishedAt, Version: it.version}
	}
	if emit != nil {
		defer emit()
	}
	return resp, nil
}
