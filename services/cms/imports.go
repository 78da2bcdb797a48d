package cms

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/auditentry"
	"github.com/mediamesh/mediamesh/ent/cmsdb/episode"
	"github.com/mediamesh/mediamesh/ent/cmsdb/program"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/contract"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// Bulk imports (importContent). The body is NDJSON, one program or episode a line, keyed by
// natural keys: a program by its slug, an episode by its program's slug and its season and
// episode number. Lines are checked one by one, outside any transaction (the contract's schema of
// the line, then the service's own rules, then the references to other services, each looked up
// once per import), and applied in order, importBatch a transaction; every item still writes its
// own outbox event and audit entry through record, as the single writes do. A line that fails
// its checks is reported and skipped without touching the transaction. When a batch's
// transaction fails anyway (a write the checks could not foresee, such as a slug taken
// concurrently), it is rolled back and its items are applied again one transaction each, so the
// failing item fails alone. A failure that is no item's fault (the database is down) stops the
// import with an `aborted` line; what was committed stays, and the same file can be sent again.

const (
	// DefaultImportMaxBytes is the import body limit when Config leaves it zero.
	DefaultImportMaxBytes = 64 << 20
	// maxImportLines is the most items one import takes (the contract's ImportLines maxItems).
	maxImportLines = 100_000
	// importBatch is how many items one transaction applies.
	importBatch = 500
)

// importSchemas are the contract's schemas of an import line, to check each line as the gateway
// checks a JSON body.
type importSchemas struct {
	program, episode *openapi3.Schema
}

func loadImportSchemas() (importSchemas, error) {
	doc, err := cmsapi.GetSpec()
	if err != nil {
		return importSchemas{}, fmt.Errorf("cms: load the contract: %w", err)
	}
	get := func(name string) (*openapi3.Schema, error) {
		ref := doc.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			return nil, fmt.Errorf("cms: the contract has no schema %s", name)
		}
		return ref.Value, nil
	}
	var sc importSchemas
	if sc.program, err = get("ImportProgram"); err != nil {
		return sc, err
	}
	sc.episode, err = get("ImportEpisode")
	return sc, err
}

// importLine is one non-blank line of the body.
type importLine struct {
	n    int // 1-based line number in the body
	data []byte
}

// importItem is a line that passed its checks.
type importItem struct {
	line    int
	key     string
	program *cmsapi.ImportProgram // one of program and episode
	tags    []string              // the program's normalised tags; nil when the line gives none
	episode *cmsapi.ImportEpisode
}

func (it *importItem) publish() bool {
	if it.program != nil {
		return it.program.Publish != nil && *it.program.Publish
	}
	return it.episode.Publish != nil && *it.episode.Publish
}

// importOutcome is what happened to one item.
type importOutcome int

const (
	importCreated importOutcome = iota + 1
	importUpdated
	importUnchanged
)

// ImportContent implements cmsapi.StrictServerInterface: it reads and splits the body, then
// answers 200 with the NDJSON stream of the import (importStream), which runs as it is written.
func (s *Service) ImportContent(ctx context.Context, req cmsapi.ImportContentRequestObject) (cmsapi.ImportContentResponseObject, error) {
	a, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, noItems()
	}
	limit := s.cfg.ImportMaxBytes
	body, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return nil, apierror.BadRequest("could not read the request body")
	}
	if int64(len(body)) > limit {
		return nil, apierror.PayloadTooLarge(fmt.Sprintf("the import body is larger than %d bytes; split the file", limit))
	}
	lines := splitLines(body)
	if len(lines) == 0 {
		return nil, noItems()
	}
	if len(lines) > maxImportLines {
		return nil, apierror.PayloadTooLarge(fmt.Sprintf("the import has %d items, more than %d; split the file", len(lines), maxImportLines))
	}
	return &importStream{s: s, ctx: ctx, actor: a, lines: lines}, nil
}

func noItems() error {
	return apierror.BadRequest("body: the import has no items", apierror.FieldError{Field: "body", Message: "must have at least one NDJSON line", Code: "required"})
}

// splitLines returns the non-blank lines of an NDJSON body (LF or CRLF), numbered from 1.
func splitLines(body []byte) []importLine {
	var out []importLine
	for n := 1; len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			out = append(out, importLine{n: n, data: line})
		}
	}
	return out
}

// importStream runs an import while it writes its NDJSON answer: the errors of a batch's items
// and its progress after each batch's commit (flushed, so a client sees them as they happen),
// then done, or aborted when the import could not finish.
type importStream struct {
	s     *Service
	ctx   context.Context
	actor actor
	lines []importLine

	enc     *json.Encoder
	flush   func() error
	counts  struct{ processed, created, updated, unchanged, failed int }
	pending []cmsapi.ImportMessage // the error lines of the current batch
}

// VisitImportContentResponse implements cmsapi.ImportContentResponseObject.
func (st *importStream) VisitImportContentResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", contract.NDJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	st.enc = json.NewEncoder(w)
	st.enc.SetEscapeHTML(false)
	rc := http.NewResponseController(w)
	st.flush = rc.Flush
	err := st.run()
	if err == nil {
		return st.emit(st.message(cmsapi.Done))
	}
	if st.ctx.Err() != nil {
		return nil // the client went away; nothing more to tell it
	}
	st.s.log.ErrorContext(st.ctx, "import aborted", "error", err, "processed", st.counts.processed, "total", len(st.lines))
	m := st.message(cmsapi.Aborted)
	m.Problem = problemOf(apierror.From(err))
	return st.emit(m)
}

// run imports every batch; the error stops the import (it is no item's fault).
func (st *importStream) run() error {
	seen := referenceChecks{}
	for start := 0; start < len(st.lines); start += importBatch {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		batch := st.lines[start:min(start+importBatch, len(st.lines))]
		items := make([]*importItem, 0, len(batch))
		for _, l := range batch {
			it, problem := st.s.parseImportLine(l)
			if problem == nil {
				problem = st.s.checkImportReferences(st.ctx, seen, it)
			}
			if problem != nil {
				key := ""
				if it != nil {
					key = it.key
				}
				st.fail(l.n, key, problem)
				continue
			}
			items = append(items, it)
		}
		if err := st.apply(items); err != nil {
			return err
		}
		// The batch's errors in line order (those found by the checks came first), then its
		// progress.
		slices.SortStableFunc(st.pending, func(a, b cmsapi.ImportMessage) int { return int(*a.Line - *b.Line) })
		for _, m := range st.pending {
			if err := st.emit(m); err != nil {
				return err
			}
		}
		st.pending = st.pending[:0]
		if err := st.emit(st.message(cmsapi.Progress)); err != nil {
			return err
		}
		if err := st.flush(); err != nil {
			return err
		}
	}
	return nil
}

// apply writes items in one transaction; when it fails, each item again in one of its own.
func (st *importStream) apply(items []*importItem) error {
	if len(items) == 0 {
		return nil
	}
	outcomes := make([]importOutcome, len(items))
	problems := make([]*apierror.Error, len(items))
	err := st.s.inTx(st.ctx, func(c *cmsdb.Client, tx *sql.Tx) error {
		clear(outcomes)
		clear(problems)
		w, err := st.s.newImportWriter(st.ctx, c, tx, st.actor, items)
		if err != nil {
			return err
		}
		for i, it := range items {
			outcomes[i], problems[i], err = w.apply(it)
			if err != nil {
				return err
			}
		}
		return w.flush()
	})
	if err == nil {
		for i, it := range items {
			st.record(it, outcomes[i], problems[i])
		}
		return nil
	}
	if st.ctx.Err() != nil {
		return st.ctx.Err()
	}
	if len(items) > 1 {
		st.s.log.WarnContext(st.ctx, "import batch failed; applying its items one by one", "error", err, "items", len(items))
	}
	for _, it := range items {
		var outcome importOutcome
		var problem *apierror.Error
		err := st.s.inTx(st.ctx, func(c *cmsdb.Client, tx *sql.Tx) error {
			w, err := st.s.newImportWriter(st.ctx, c, tx, st.actor, []*importItem{it})
			if err != nil {
				return err
			}
			if outcome, problem, err = w.apply(it); err != nil {
				return err
			}
			return w.flush()
		})
		if err != nil {
			err = storeErr("import", err)
			var ae *apierror.Error
			if !errors.As(err, &ae) || ae.Status >= 500 {
				return err
			}
			outcome, problem = 0, ae
		}
		st.record(it, outcome, problem)
	}
	return nil
}

// record counts an item's outcome, or reports its problem.
func (st *importStream) record(it *importItem, outcome importOutcome, problem *apierror.Error) {
	if problem != nil {
		st.fail(it.line, it.key, problem)
		return
	}
	st.counts.processed++
	switch outcome {
	case importCreated:
		st.counts.created++
	case importUpdated:
		st.counts.updated++
	default:
		st.counts.unchanged++
	}
}

// fail counts a failed item and queues its error line, written with its batch's progress.
func (st *importStream) fail(line int, key string, problem *apierror.Error) {
	st.counts.processed++
	st.counts.failed++
	m := cmsapi.ImportMessage{Kind: cmsapi.Error, Line: ptr(int32(line)), Problem: problemOf(problem)}
	if key != "" {
		m.Key = &key
	}
	st.pending = append(st.pending, m)
}

func (st *importStream) message(kind cmsapi.ImportMessageKind) cmsapi.ImportMessage {
	c := st.counts
	return cmsapi.ImportMessage{
		Kind: kind, Total: ptr(int32(len(st.lines))), Processed: ptr(int32(c.processed)),
		Created: ptr(int32(c.created)), Updated: ptr(int32(c.updated)), Unchanged: ptr(int32(c.unchanged)), Failed: ptr(int32(c.failed)),
	}
}

func (st *importStream) emit(m cmsapi.ImportMessage) error { return st.enc.Encode(m) }

func ptr[T any](v T) *T { return &v }

// problemOf is an item's problem as the contract spells it.
func problemOf(e *apierror.Error) *commonapi.Problem {
	p := &commonapi.Problem{Type: e.Type, Title: e.Title, Status: int32(e.Status)}
	if e.Detail != "" {
		p.Detail = &e.Detail
	}
	if len(e.Errors) > 0 {
		fes := make([]commonapi.FieldError, len(e.Errors))
		for i, f := range e.Errors {
			fes[i] = commonapi.FieldError{Field: f.Field, Message: f.Message}
			if f.Code != "" {
				fes[i].Code = ptr(f.Code)
			}
		}
		p.Errors = &fes
	}
	return p
}

// parseImportLine checks one line: one JSON object without duplicate keys, valid against the
// contract's ImportProgram or ImportEpisode (by its type), then against the rules the service
// applies to every write (human text, language, tags). The item is returned even with a problem
// when its key could be read, for the report.
func (s *Service) parseImportLine(l importLine) (*importItem, *apierror.Error) {
	if err := contract.StrictJSON(l.data); err != nil {
		// The contract's wording is about a request body; here the body is one line.
		p := *apierror.From(err)
		p.Detail = strings.ReplaceAll(p.Detail, "the request body", "the line")
		p.Errors = slices.Clone(p.Errors)
		for i := range p.Errors {
			p.Errors[i].Message = strings.ReplaceAll(p.Errors[i].Message, "the request body", "the line")
		}
		return nil, &p
	}
	var raw any
	if err := json.Unmarshal(l.data, &raw); err != nil {
		return nil, apierror.BadRequest("body: the line is not valid JSON", apierror.FieldError{Field: "body", Message: "is not valid JSON", Code: "malformed"})
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, apierror.Validation("body: each line must be a JSON object", apierror.FieldError{Field: "body", Message: "must be a JSON object", Code: "type"})
	}
	it := &importItem{line: l.n}
	var schema *openapi3.Schema
	switch obj["type"] {
	case "program":
		schema = s.imports.program
		it.program = &cmsapi.ImportProgram{}
	case "episode":
		schema = s.imports.episode
		it.episode = &cmsapi.ImportEpisode{}
	default:
		return nil, apierror.Validation("type: must be program or episode", apierror.FieldError{Field: "type", Message: "must be program or episode", Code: "enum"})
	}
	it.key = rawKey(obj)
	if fes := contract.SchemaErrors(schema, obj); len(fes) > 0 {
		return it, apierror.Validation(fes[0].Field+": "+fes[0].Message, fes...)
	}
	var target any = it.program
	if it.episode != nil {
		target = it.episode
	}
	if err := json.Unmarshal(l.data, target); err != nil {
		return it, apierror.Validation("body: "+err.Error(), apierror.FieldError{Field: "body", Message: err.Error(), Code: "invalid"})
	}
	var fe fieldErrors
	if p := it.program; p != nil {
		fe.title("title", &p.Title)
		fe.summary("summary", p.Summary)
		fe.language("language", &p.Language)
		it.tags = fe.tags("tags", p.Tags)
	} else {
		e := it.episode
		fe.title("title", &e.Title)
		fe.summary("summary", e.Summary)
		fe.language("language", e.Language)
	}
	if err := fe.err(); err != nil {
		return it, apierror.From(err)
	}
	return it, nil
}

// rawKey is the key a line names, read from its decoded object before it is known to be valid:
// the slug of a program, program_slug/season/episode of an episode ("-" for no season); "" when
// the line does not name it.
func rawKey(obj map[string]any) string {
	if obj["type"] == "program" {
		slug, _ := obj["slug"].(string)
		return slug
	}
	slug, _ := obj["program_slug"].(string)
	number, ok := obj["episode_number"].(float64)
	if slug == "" || !ok {
		return ""
	}
	season := "-"
	if n, ok := obj["season_number"].(float64); ok {
		season = strconv.FormatFloat(n, 'f', -1, 64)
	}
	return slug + "/" + season + "/" + strconv.FormatFloat(number, 'f', -1, 64)
}

// referenceChecks remembers the outcome of each reference lookup of an import, so that an id
// named by many lines is asked about once.
type referenceChecks map[string]*apierror.Error

// checkImportReferences checks the category and assets an item names (see references.go).
func (s *Service) checkImportReferences(ctx context.Context, seen referenceChecks, it *importItem) *apierror.Error {
	check := func(key string, fn func() error) *apierror.Error {
		if p, ok := seen[key]; ok {
			return p
		}
		var p *apierror.Error
		if err := fn(); err != nil {
			p = apierror.From(err)
		}
		seen[key] = p
		return p
	}
	var refs []assetRef
	if p := it.program; p != nil {
		if id := p.CategoryId; id != nil {
			if pr := check("category:"+id.String(), func() error { return s.checkCategory(ctx, *id) }); pr != nil {
				return pr
			}
		}
		refs = append(refs, imageRef("cover_asset_id", p.CoverAssetId))
	} else {
		refs = append(refs, playableRef("media_asset_id", it.episode.MediaAssetId), imageRef("thumbnail_asset_id", it.episode.ThumbnailAssetId))
	}
	for _, r := range refs {
		if r.id == nil {
			continue
		}
		if pr := check(r.field+":"+r.id.String(), func() error { return s.checkAssets(ctx, r) }); pr != nil {
			return pr
		}
	}
	return nil
}

// episodeKey is an episode's natural key within its program.
type episodeKey struct {
	program uuid.UUID
	season  int32 // 0: no season
	number  int32
}

func keyOf(e *cmsdb.Episode) episodeKey {
	k := episodeKey{program: e.ProgramID, number: e.EpisodeNumber}
	if e.SeasonNumber != nil {
		k.season = *e.SeasonNumber
	}
	return k
}

// importWriter applies the items of one transaction. It reads the programs and episodes the
// items name in two queries up front and keeps them current as it writes.
type importWriter struct {
	s        *Service
	ctx      context.Context
	c        *cmsdb.Client
	tx       *sql.Tx
	a        actor
	programs map[string]*cmsdb.Program // by slug
	episodes map[episodeKey]*cmsdb.Episode
	locked   map[uuid.UUID]bool // programs this transaction holds the row lock of
	// The events and audit entries of the changes, written together by flush at the end of the
	// transaction (multi-row INSERTs; see record for what each change writes).
	events []outbox.Event
	audits []*cmsdb.AuditEntryCreate
}

// record is Service.record for the writer: the change's event and audit entry are kept for
// flush. An import never changes soft-deleted content, so every change has its event.
func (w *importWriter) record(action auditentry.Action, before, after *content, now time.Time) error {
	ev, err := contentEvent(w.ctx, w.a, action, before, after, now)
	if err != nil {
		return err
	}
	w.events = append(w.events, ev)
	subject := after
	if subject == nil {
		subject = before
	}
	w.audits = append(w.audits, w.c.AuditEntry.Create().
		SetEntityType(subject.entity).SetEntityID(subject.id).SetAction(action).
		SetActorID(w.a.id).SetActorRoles(w.a.roles).SetNillableAPIKeyID(w.a.apiKey).SetChanges(auditChanges(action, before, after)).
		SetOccurredAt(now).SetNillableRequestID(w.a.requestID))
	return nil
}

// flush writes the kept events and audit entries.
func (w *importWriter) flush() error {
	if err := outbox.AppendAll(w.ctx, w.tx, w.s.db, w.events); err != nil {
		return fmt.Errorf("cms: import: %w", err)
	}
	for start := 0; start < len(w.audits); start += auditBatch {
		if err := w.c.AuditEntry.CreateBulk(w.audits[start:min(start+auditBatch, len(w.audits))]...).Exec(w.ctx); err != nil {
			return fmt.Errorf("cms: import: write audit entries: %w", err)
		}
	}
	w.events, w.audits = nil, nil
	return nil
}

func (s *Service) newImportWriter(ctx context.Context, c *cmsdb.Client, tx *sql.Tx, a actor, items []*importItem) (*importWriter, error) {
	w := &importWriter{s: s, ctx: ctx, c: c, tx: tx, a: a, programs: map[string]*cmsdb.Program{}, episodes: map[episodeKey]*cmsdb.Episode{}, locked: map[uuid.UUID]bool{}}
	slugs := make([]string, 0, len(items))
	numbers := make([]int32, 0, len(items))
	seenSlug := map[string]bool{}
	for _, it := range items {
		slug := ""
		if it.program != nil {
			slug = it.program.Slug
		} else {
			slug = it.episode.ProgramSlug
			numbers = append(numbers, it.episode.EpisodeNumber)
		}
		if !seenSlug[slug] {
			seenSlug[slug] = true
			slugs = append(slugs, slug)
		}
	}
	ps, err := c.Program.Query().Where(program.SlugIn(slugs...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("cms: import: read programs: %w", err)
	}
	ids := make([]uuid.UUID, len(ps))
	for i, p := range ps {
		w.programs[p.Slug] = p
		ids[i] = p.ID
	}
	if len(ids) > 0 && len(numbers) > 0 {
		es, err := c.Episode.Query().Where(episode.ProgramIDIn(ids...), episode.EpisodeNumberIn(numbers...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("cms: import: read episodes: %w", err)
		}
		for _, e := range es {
			w.episodes[keyOf(e)] = e
		}
	}
	return w, nil
}

// apply writes one item: its outcome, or the problem that refuses it before anything of it is
// written. The error is a failed write: the transaction must be rolled back.
func (w *importWriter) apply(it *importItem) (importOutcome, *apierror.Error, error) {
	if it.program != nil {
		return w.applyProgram(it)
	}
	return w.applyEpisode(it)
}

func (w *importWriter) applyProgram(it *importItem) (importOutcome, *apierror.Error, error) {
	b, now := it.program, w.s.clock()
	cur := w.programs[b.Slug]
	if cur == nil {
		// Created in draft (version 1) and, with publish, published (version 2): the row is
		// written once in its final state, with both changes' events and audit entries.
		draft := &cmsdb.Program{
			ID: uuid.Must(uuid.NewV7()), Kind: program.Kind(b.Kind), Title: b.Title, Slug: b.Slug, Summary: b.Summary,
			Language: b.Language, CategoryID: b.CategoryId, Tags: nonNil(it.tags), CoverAssetID: b.CoverAssetId,
			Status: program.StatusDraft, Version: 1, CreatedAt: now, CreatedBy: w.a.id, UpdatedAt: now, UpdatedBy: w.a.id,
		}
		final := draft
		l, action, _ := w.publishPlan(it, "program", programLifecycle(draft), now)
		if action != "" {
			final = ptr(*draft)
			setProgramLifecycle(final, l)
			final.Version = 2
		}
		p, err := w.c.Program.Create().
			SetID(final.ID).SetKind(final.Kind).SetTitle(final.Title).SetSlug(final.Slug).SetNillableSummary(final.Summary).
			SetLanguage(final.Language).SetNillableCategoryID(final.CategoryID).SetTags(final.Tags).
			SetNillableCoverAssetID(final.CoverAssetID).
			SetStatus(final.Status).SetNillablePublishedAt(final.PublishedAt).SetVersion(final.Version).
			SetCreatedAt(now).SetCreatedBy(w.a.id).SetUpdatedAt(now).SetUpdatedBy(w.a.id).
			Save(w.ctx)
		if err != nil {
			return 0, nil, slugErr(b.Slug, err)
		}
		if err := w.record(auditentry.ActionCreated, nil, programContent(draft), now); err != nil {
			return 0, nil, err
		}
		if action != "" {
			if err := w.record(action, programContent(draft), programContent(p), now); err != nil {
				return 0, nil, err
			}
		}
		w.programs[p.Slug], w.locked[p.ID] = p, true
		return importCreated, nil, nil
	}
	if err := refuseDeleted("program", programLifecycle(cur)); err != nil {
		return 0, apierror.From(err), nil
	}
	l, action, err := w.publishPlan(it, "program", programLifecycle(cur), now)
	if err != nil {
		return 0, apierror.From(err), nil
	}
	next := *cur
	next.Kind, next.Title, next.Language = program.Kind(b.Kind), b.Title, b.Language
	if b.Summary != nil {
		next.Summary = b.Summary
	}
	if b.Tags != nil {
		next.Tags = it.tags
	}
	if b.CategoryId != nil {
		next.CategoryID = b.CategoryId
	}
	if b.CoverAssetId != nil {
		next.CoverAssetID = b.CoverAssetId
	}
	out, outcome := cur, importUnchanged
	if len(diff(programContent(cur).fields, programContent(&next).fields)) > 0 {
		next.Version, next.UpdatedAt, next.UpdatedBy = cur.Version+1, now, w.a.id
		if out, err = saveProgram(w.ctx, w.c, cur, &next); err != nil {
			return 0, nil, err
		}
		if err := w.record(auditentry.ActionUpdated, programContent(cur), programContent(out), now); err != nil {
			return 0, nil, err
		}
		outcome = importUpdated
	}
	if action != "" {
		before := out
		next := *out
		setProgramLifecycle(&next, l)
		next.Version, next.UpdatedAt, next.UpdatedBy = before.Version+1, now, w.a.id
		if out, err = saveProgram(w.ctx, w.c, before, &next); err != nil {
			return 0, nil, err
		}
		if err := w.record(action, programContent(before), programContent(out), now); err != nil {
			return 0, nil, err
		}
		outcome = importUpdated
	}
	w.programs[out.Slug] = out
	return outcome, nil, nil
}

// publishPlan is the transition an item's publish asks for: none without publish; else publish
// now (planPublish: a no-op when published, refused when archived or deleted).
func (w *importWriter) publishPlan(it *importItem, noun string, l lifecycle, now time.Time) (lifecycle, auditentry.Action, error) {
	if !it.publish() {
		return l, "", nil
	}
	return planPublish(noun, nil, now)(l)
}

func (w *importWriter) applyEpisode(it *importItem) (importOutcome, *apierror.Error, error) {
	b, now := it.episode, w.s.clock()
	p := w.programs[b.ProgramSlug]
	if p == nil {
		return 0, apierror.Validation("program_slug: no such program", apierror.FieldError{Field: "program_slug", Message: "no such program; import it first or on an earlier line", Code: "not_found"}), nil
	}
	if err := refuseDeleted("program", programLifecycle(p)); err != nil {
		return 0, apierror.From(err), nil
	}
	key := episodeKey{program: p.ID, number: b.EpisodeNumber}
	if b.SeasonNumber != nil {
		key.season = *b.SeasonNumber
	}
	cur := w.episodes[key]
	if (cur == nil || it.publish()) && string(p.Status) == statusArchived {
		return 0, apierror.Conflict("the program is archived; unpublish it before adding or publishing episodes"), nil
	}
	if cur == nil {
		if !w.locked[p.ID] {
			// As createEpisode does: the program's state holds until commit.
			locked, err := w.s.lockProgram(w.ctx, w.c, p.ID)
			if err != nil {
				return 0, nil, err
			}
			w.programs[locked.Slug], w.locked[p.ID], p = locked, true, locked
			if locked.DeletedAt != nil || string(locked.Status) == statusArchived {
				return 0, nil, apierror.Conflict("the program was archived or deleted meanwhile")
			}
		}
		lang := p.Language
		if b.Language != nil {
			lang = *b.Language
		}
		draft := &cmsdb.Episode{
			ID: uuid.Must(uuid.NewV7()), ProgramID: p.ID, SeasonNumber: b.SeasonNumber, EpisodeNumber: b.EpisodeNumber,
			Title: b.Title, Summary: b.Summary, Language: lang, DurationSeconds: b.DurationSeconds,
			MediaAssetID: b.MediaAssetId, ThumbnailAssetID: b.ThumbnailAssetId,
			Status: episode.StatusDraft, Version: 1, CreatedAt: now, CreatedBy: w.a.id, UpdatedAt: now, UpdatedBy: w.a.id,
		}
		final := draft
		l, action, _ := w.publishPlan(it, "episode", episodeLifecycle(draft), now)
		if action != "" {
			final = ptr(*draft)
			setEpisodeLifecycle(final, l)
			final.Version = 2
		}
		e, err := w.c.Episode.Create().
			SetID(final.ID).SetProgramID(p.ID).SetNillableSeasonNumber(final.SeasonNumber).SetEpisodeNumber(final.EpisodeNumber).
			SetTitle(final.Title).SetNillableSummary(final.Summary).SetLanguage(final.Language).SetNillableDurationSeconds(final.DurationSeconds).
			SetNillableMediaAssetID(final.MediaAssetID).SetNillableThumbnailAssetID(final.ThumbnailAssetID).
			SetStatus(final.Status).SetNillablePublishedAt(final.PublishedAt).SetVersion(final.Version).
			SetCreatedAt(now).SetCreatedBy(w.a.id).SetUpdatedAt(now).SetUpdatedBy(w.a.id).
			Save(w.ctx)
		if err != nil {
			return 0, nil, numberErr(err)
		}
		if err := w.record(auditentry.ActionCreated, nil, episodeContent(draft), now); err != nil {
			return 0, nil, err
		}
		if action != "" {
			if err := w.record(action, episodeContent(draft), episodeContent(e), now); err != nil {
				return 0, nil, err
			}
		}
		w.episodes[key] = e
		return importCreated, nil, nil
	}
	if err := refuseDeleted("episode", episodeLifecycle(cur)); err != nil {
		return 0, apierror.From(err), nil
	}
	l, action, err := w.publishPlan(it, "episode", episodeLifecycle(cur), now)
	if err != nil {
		return 0, apierror.From(err), nil
	}
	next := *cur
	next.Title = b.Title
	if b.Summary != nil {
		next.Summary = b.Summary
	}
	if b.Language != nil {
		next.Language = *b.Language
	}
	if b.DurationSeconds != nil {
		next.DurationSeconds = b.DurationSeconds
	}
	if b.MediaAssetId != nil {
		next.MediaAssetID = b.MediaAssetId
	}
	if b.ThumbnailAssetId != nil {
		next.ThumbnailAssetID = b.ThumbnailAssetId
	}
	out, outcome := cur, importUnchanged
	if len(diff(episodeContent(cur).fields, episodeContent(&next).fields)) > 0 {
		next.Version, next.UpdatedAt, next.UpdatedBy = cur.Version+1, now, w.a.id
		if out, err = saveEpisode(w.ctx, w.c, cur, &next); err != nil {
			return 0, nil, err
		}
		if err := w.record(auditentry.ActionUpdated, episodeContent(cur), episodeContent(out), now); err != nil {
			return 0, nil, err
		}
		outcome = importUpdated
	}
	if action != "" {
		before := out
		next := *out
		setEpisodeLifecycle(&next, l)
		next.Version, next.UpdatedAt, next.UpdatedBy = before.Version+1, now, w.a.id
		if out, err = saveEpisode(w.ctx, w.c, before, &next); err != nil {
			return 0, nil, err
		}
		if err := w.record(action, episodeContent(before), episodeContent(out), now); err != nil {
			return 0, nil, err
		}
		outcome = importUpdated
	}
	w.episodes[key] = out
	return outcome, nil, nil
}
