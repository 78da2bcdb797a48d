package cms

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// importResult is a decoded import answer.
type importResult struct {
	code     int
	body     []byte
	progress []cmsapi.ImportMessage
	errors   map[int]cmsapi.ImportMessage // by line
	last     cmsapi.ImportMessage
}

// importLines sends lines (each encoded as one JSON line, or sent as is when a string) as an
// NDJSON import.
func (f *fixture) importLines(token string, lines ...any) *importResult {
	f.t.Helper()
	var b bytes.Buffer
	for _, l := range lines {
		if s, ok := l.(string); ok {
			b.WriteString(s)
		} else {
			enc, err := json.Marshal(l)
			if err != nil {
				f.t.Fatal(err)
			}
			b.Write(enc)
		}
		b.WriteByte('\n')
	}
	return f.importBody(token, "application/x-ndjson", b.Bytes())
}

func (f *fixture) importBody(token, contentType string, body []byte) *importResult {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/cms/imports", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	r := &importResult{code: rec.Code, body: rec.Body.Bytes(), errors: map[int]cmsapi.ImportMessage{}}
	if rec.Code != http.StatusOK {
		return r
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/x-ndjson" {
		f.t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		var m cmsapi.ImportMessage
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			f.t.Fatalf("line %q: %v", sc.Text(), err)
		}
		switch m.Kind {
		case cmsapi.Progress:
			r.progress = append(r.progress, m)
		case cmsapi.Error:
			if _, dup := r.errors[int(*m.Line)]; dup {
				f.t.Fatalf("line %d reported twice", *m.Line)
			}
			if r.last.Kind == cmsapi.Error && *r.last.Line > *m.Line {
				f.t.Fatalf("line %d reported after line %d", *m.Line, *r.last.Line)
			}
			r.errors[int(*m.Line)] = m
		}
		r.last = m
	}
	return r
}

// counts are the counts of a progress, done or aborted message.
type counts struct{ total, processed, created, updated, unchanged, failed int32 }

func countsOf(m cmsapi.ImportMessage) counts {
	v := func(p *int32) int32 {
		if p == nil {
			return -1
		}
		return *p
	}
	return counts{v(m.Total), v(m.Processed), v(m.Created), v(m.Updated), v(m.Unchanged), v(m.Failed)}
}

// done checks that the import finished with the counts.
func (r *importResult) done(t *testing.T, want counts) {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	if r.last.Kind != cmsapi.Done {
		t.Fatalf("last line %+v, want done:\n%s", r.last, r.body)
	}
	if got := countsOf(r.last); got != want {
		t.Fatalf("counts %+v, want %+v:\n%s", got, want, r.body)
	}
	if len(r.progress) == 0 || countsOf(r.progress[len(r.progress)-1]) != want {
		t.Fatalf("the last progress line does not carry the final counts:\n%s", r.body)
	}
	if int(want.failed) != len(r.errors) {
		t.Fatalf("%d failed, %d error lines:\n%s", want.failed, len(r.errors), r.body)
	}
}

// lineFails checks that line failed with status, naming field when not "".
func (r *importResult) lineFails(t *testing.T, line, status int, field, key string) {
	t.Helper()
	m, ok := r.errors[line]
	if !ok {
		t.Fatalf("line %d has no error:\n%s", line, r.body)
	}
	if int(m.Problem.Status) != status {
		t.Fatalf("line %d: status %d, want %d: %+v", line, m.Problem.Status, status, *m.Problem.Detail)
	}
	if key != "" && (m.Key == nil || *m.Key != key) {
		t.Fatalf("line %d: key %v, want %q", line, m.Key, key)
	}
	if field == "" {
		return
	}
	if m.Problem.Errors != nil {
		for _, e := range *m.Problem.Errors {
			if e.Field == field {
				return
			}
		}
	}
	t.Fatalf("line %d: the problem does not name %s: %+v", line, field, m.Problem)
}

func programLine(slug string, extra map[string]any) map[string]any {
	m := map[string]any{"type": "program", "slug": slug, "kind": "podcast", "title": "Program " + slug, "language": "ar"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func episodeLine(programSlug string, season, number int, extra map[string]any) map[string]any {
	m := map[string]any{"type": "episode", "program_slug": programSlug, "episode_number": number, "title": fmt.Sprintf("Episode %d", number)}
	if season > 0 {
		m["season_number"] = season
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// TestImport imports good and bad lines together: every good one is written with its event and
// audit entry, every bad one is reported with its line, key and field, and nothing of it is
// written. Importing the same file again changes nothing; a changed line updates its item.
func TestImport(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		f.createProgram("existing", nil)
		gone := f.createProgram("gone", nil)
		f.do(http.MethodDelete, programPath(gone.Id), "editor", nil).must(t, http.StatusNoContent, nil)

		lines := []any{
			programLine("alpha", map[string]any{"publish": true, "tags": []string{"Story", "story"}, "category_id": f.cat, "summary": "first"}), // 1
			episodeLine("alpha", 1, 1, map[string]any{"publish": true, "media_asset_id": videoAsset}),                                           // 2
			episodeLine("alpha", 1, 2, nil),        // 3
			"",                                     // 4: blank, skipped
			`{"type": "program", "slug": "broken"`, // 5: not JSON
			map[string]any{"type": "series", "slug": "x"},                                                        // 6: unknown type
			programLine("too-long", map[string]any{"title": strings.Repeat("a", 201)}),                           // 7: schema
			programLine("invisible", map[string]any{"title": "\u200b\u200b"}),                                    // 8: human text
			episodeLine("nowhere", 0, 1, nil),                                                                    // 9: unknown program
			programLine("gone", nil),                                                                             // 10: soft-deleted
			programLine("cat", map[string]any{"category_id": "0193a4b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b"}),            // 11: no such category
			episodeLine("alpha", 0, 3, map[string]any{"media_asset_id": coverAsset}),                             // 12: wrong asset kind
			`{"type": "program", "slug": "dup", "slug": "dup2", "kind": "show", "title": "t", "language": "ar"}`, // 13: duplicate key
			programLine("extra", map[string]any{"rating": 5}),                                                    // 14: unknown field
			episodeLine("existing", 0, 7, nil),                                                                   // 15: episode of an existing program
			programLine("existing", map[string]any{"title": "Existing, renamed", "kind": "show"}),                // 16: update
			`[1, 2]`, // 17: not an object
			programLine("lang", map[string]any{"language": "xx"}), // 18: unknown language
		}
		before := f.count("outbox")
		r := f.importLines("editor", lines...)
		r.done(t, counts{total: 17, processed: 17, created: 4, updated: 1, unchanged: 0, failed: 12})
		r.lineFails(t, 5, http.StatusBadRequest, "body", "")
		r.lineFails(t, 6, http.StatusUnprocessableEntity, "type", "")
		r.lineFails(t, 7, http.StatusUnprocessableEntity, "title", "too-long")
		r.lineFails(t, 8, http.StatusUnprocessableEntity, "title", "invisible")
		r.lineFails(t, 9, http.StatusUnprocessableEntity, "program_slug", "nowhere/-/1")
		r.lineFails(t, 10, http.StatusConflict, "", "gone")
		r.lineFails(t, 11, http.StatusUnprocessableEntity, "category_id", "cat")
		r.lineFails(t, 12, http.StatusUnprocessableEntity, "media_asset_id", "alpha/-/3")
		r.lineFails(t, 13, http.StatusBadRequest, "slug", "")
		r.lineFails(t, 14, http.StatusUnprocessableEntity, "rating", "extra")
		r.lineFails(t, 17, http.StatusUnprocessableEntity, "body", "")
		r.lineFails(t, 18, http.StatusUnprocessableEntity, "language", "lang")

		// What was written: the program published with its normalised tags, its episodes, and
		// the update; one event and one audit entry per change.
		var list cmsapi.ProgramList
		f.do(http.MethodGet, "/api/v1/cms/programs?include_deleted=true&limit=100", "editor", nil).must(t, http.StatusOK, &list)
		bySlug := map[string]cmsapi.Program{}
		for _, p := range list.Items {
			bySlug[p.Slug] = p
		}
		if len(bySlug) != 3 {
			t.Fatalf("programs %v", bySlug)
		}
		alpha := bySlug["alpha"]
		if alpha.Status != cmsapi.PublicationStatusPublished || strings.Join(alpha.Tags, ",") != "story" || alpha.EpisodeCount != 2 || alpha.CategoryId == nil || *alpha.CategoryId != f.cat {
			t.Fatalf("alpha %+v", alpha)
		}
		if got := bySlug["existing"]; got.Title != "Existing, renamed" || got.Kind != cmsapi.Show || got.EpisodeCount != 1 || got.Version != 2 {
			t.Fatalf("existing %+v", got)
		}
		var eps cmsapi.EpisodeList
		f.do(http.MethodGet, programPath(alpha.Id, "episodes"), "editor", nil).must(t, http.StatusOK, &eps)
		if len(eps.Items) != 2 || eps.Items[0].Status != cmsapi.PublicationStatusPublished || eps.Items[1].Status != cmsapi.PublicationStatusDraft ||
			eps.Items[0].Language != "ar" || eps.Items[0].MediaAssetId == nil {
			t.Fatalf("episodes %+v", eps.Items)
		}
		// created+published alpha, created+published episode 1, created episode 2 and
		// existing/7, updated existing.
		wantTypes := map[string]int{"content.created": 4, "content.published": 2, "content.updated": 1}
		evs := f.events()[before:]
		got := map[string]int{}
		for _, e := range evs {
			got[e.typ]++
		}
		if fmt.Sprint(got) != fmt.Sprint(wantTypes) {
			t.Fatalf("events %v, want %v", got, wantTypes)
		}
		if n := len(f.audit(alpha.Id)); n != 2 {
			t.Fatalf("alpha has %d audit entries, want 2 (created, published)", n)
		}
		for _, e := range f.audit(alpha.Id) {
			if e.RequestId == nil && e.ActorId != editorID {
				t.Fatalf("audit entry %+v", e)
			}
		}

		// The same file again: nothing new.
		outbox, audit := f.count("outbox"), f.count("audit_entries")
		r = f.importLines("editor", lines...)
		r.done(t, counts{total: 17, processed: 17, created: 0, updated: 0, unchanged: 5, failed: 12})
		if f.count("outbox") != outbox || f.count("audit_entries") != audit || f.count("programs") != 3 || f.count("episodes") != 3 {
			t.Fatalf("a second import of the same file wrote something")
		}

		// A changed line updates its item alone.
		r = f.importLines("editor", programLine("alpha", map[string]any{"title": "Alpha 2", "publish": true}), episodeLine("alpha", 1, 2, map[string]any{"title": "Two", "publish": true}))
		r.done(t, counts{total: 2, processed: 2, created: 0, updated: 2, unchanged: 0, failed: 0})
		if n := f.count("outbox"); n != outbox+3 { // alpha updated; episode 2 updated and published
			t.Fatalf("%d new events, want 3", n-outbox)
		}
	})
}

// TestImportRequest covers what refuses a whole import: roles, content type, an empty body, the
// size limit.
func TestImportRequest(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{ImportMaxBytes: 1024})
		line, _ := json.Marshal(programLine("a", nil))
		if r := f.importBody("", "application/x-ndjson", line); r.code != http.StatusUnauthorized {
			t.Fatalf("no token: %d", r.code)
		}
		if r := f.importBody("user", "application/x-ndjson", line); r.code != http.StatusForbidden {
			t.Fatalf("USER: %d", r.code)
		}
		if r := f.importBody("editor", "application/json", line); r.code != http.StatusUnsupportedMediaType {
			t.Fatalf("application/json: %d %s", r.code, r.body)
		}
		if r := f.importBody("editor", "application/x-ndjson", []byte("\n \r\n")); r.code != http.StatusBadRequest || !bytes.Contains(r.body, []byte(`"field":"body"`)) {
			t.Fatalf("no items: %d %s", r.code, r.body)
		}
		big := bytes.Repeat(append(line, '\n'), 1024/len(line)+1)
		if r := f.importBody("editor", "application/x-ndjson", big); r.code != http.StatusRequestEntityTooLarge {
			t.Fatalf("too large: %d %s", r.code, r.body)
		}
		if f.count("programs") != 0 {
			t.Fatal("a refused import wrote programs")
		}
		f.importLines("admin", programLine("a", nil)).done(t, counts{total: 1, processed: 1, created: 1, updated: 0, unchanged: 0, failed: 0})
	})
}

// TestImportBatches imports more items than one transaction takes, with a program created in
// one batch whose episodes come in the next, and duplicate keys within a batch.
func TestImportBatches(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		var lines []any
		for p := range 3 {
			slug := fmt.Sprintf("show-%d", p)
			lines = append(lines, programLine(slug, map[string]any{"publish": true}))
			for n := 1; n <= importBatch/2; n++ {
				lines = append(lines, episodeLine(slug, 1, n, map[string]any{"publish": n%2 == 0}))
			}
		}
		lines = append(lines, episodeLine("show-0", 1, 1, map[string]any{"title": "Renamed"})) // the last line updates the second
		r := f.importLines("editor", lines...)
		total := int32(len(lines))
		r.done(t, counts{total: total, processed: total, created: total - 1, updated: 1, unchanged: 0, failed: 0})
		if len(r.progress) != (len(lines)+importBatch-1)/importBatch {
			t.Fatalf("%d progress lines for %d items", len(r.progress), len(lines))
		}
		if f.count("episodes") != 3*importBatch/2 {
			t.Fatalf("%d episodes", f.count("episodes"))
		}
		// created per item, published per program and per even episode, one update.
		want := int(total-1) + 3 + 3*importBatch/4 + 1
		if n := f.count("outbox"); n != want {
			t.Fatalf("%d events, want %d", n, want)
		}
		if n := f.count("audit_entries"); n != want {
			t.Fatalf("%d audit entries, want %d", n, want)
		}
	})
}

// TestImportServerFault: a write that fails for a reason no check foresaw (injected) rolls its
// batch back; the batch's items are applied again one by one, the ones before the failing item
// commit, and the import stops there with an aborted line. Once the fault is gone, the same
// file finishes the job without duplicating anything.
func TestImportServerFault(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		if db.Dialect == database.SQLite {
			f.exec(`CREATE TRIGGER poison BEFORE INSERT ON programs WHEN NEW.slug = 'poison' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
		} else {
			f.exec(
				`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.slug = 'poison' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`,
				`CREATE TRIGGER poison BEFORE INSERT ON programs FOR EACH ROW EXECUTE FUNCTION poison()`,
			)
		}
		lines := []any{programLine("first", nil), episodeLine("first", 0, 1, nil), programLine("poison", nil), programLine("after", nil)}
		r := f.importLines("editor", lines...)
		if r.code != http.StatusOK || r.last.Kind != cmsapi.Aborted || r.last.Problem == nil || r.last.Problem.Status != http.StatusInternalServerError {
			t.Fatalf("want an aborted import:\n%s", r.body)
		}
		if got := countsOf(r.last); got != (counts{total: 4, processed: 2, created: 2, updated: 0, unchanged: 0, failed: 0}) {
			t.Fatalf("counts %+v", got)
		}
		if strings.Contains(string(r.body), "injected") {
			t.Fatalf("the answer shows the internal error: %s", r.body)
		}
		if f.count("programs") != 1 || f.count("episodes") != 1 || f.count("outbox") != 2 || f.count("audit_entries") != 2 {
			t.Fatalf("programs %d episodes %d outbox %d audit %d", f.count("programs"), f.count("episodes"), f.count("outbox"), f.count("audit_entries"))
		}
		if db.Dialect == database.SQLite {
			f.exec(`DROP TRIGGER poison`)
		} else {
			f.exec(`DROP TRIGGER poison ON programs`, `DROP FUNCTION poison()`)
		}
		f.importLines("editor", lines...).done(t, counts{total: 4, processed: 4, created: 2, updated: 0, unchanged: 2, failed: 0})
		if f.count("programs") != 3 || f.count("outbox") != 4 {
			t.Fatalf("programs %d outbox %d", f.count("programs"), f.count("outbox"))
		}
	})
}
