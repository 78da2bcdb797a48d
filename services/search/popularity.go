package search

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/searchdb"
	"github.com/mediamesh/mediamesh/ent/searchdb/popularity"
	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// The popularity factor of the ranking is fed by discovery's popularity.changed events (the
// weighted engagement of all time of a program or episode, at each power of two it reaches). It is
// stored apart from the content (PopularityRecord), since either may come first, and every
// document written takes its item's popularity from there (write).

// popularityChanged applies popularity.changed: the item's popularity rises to e's (it never
// falls: events may come again or out of order), and its document, when it is in the index, is
// written again with it.
func (p *projection) popularityChanged(ctx context.Context, e *discoveryevents.PopularityChanged) error {
	id, err := uuid.Parse(e.ContentID)
	if err != nil {
		return fmt.Errorf("content_id %q: %w", e.ContentID, err)
	}
	old, err := p.c.Popularity.Get(ctx, id)
	switch {
	case searchdb.IsNotFound(err):
		err = p.c.Popularity.Create().SetID(id).SetPopularity(e.Popularity).Exec(ctx)
	case err != nil:
		return fmt.Errorf("read the popularity of %s: %w", id, err)
	case e.Popularity <= old.Popularity:
		return nil
	default:
		err = p.c.Popularity.UpdateOneID(id).SetPopularity(e.Popularity).Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("store the popularity of %s: %w", id, err)
	}
	switch e.ContentType {
	case discoveryevents.PopularityContentTypeProgram:
		prog, err := p.c.Program.Get(ctx, id)
		if searchdb.IsNotFound(err) {
			return nil // not published (yet): its document takes the popularity when it is written
		}
		if err != nil {
			return fmt.Errorf("read program %s: %w", id, err)
		}
		return p.indexPrograms(ctx, []*searchdb.Program{prog}, false)
	case discoveryevents.PopularityContentTypeEpisode:
		ep, err := p.c.Episode.Get(ctx, id)
		if searchdb.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read episode %s: %w", id, err)
		}
		prog, err := p.c.Program.Get(ctx, ep.ProgramID)
		if searchdb.IsNotFound(err) {
			return nil // its program is not published: the episode is not in the index
		}
		if err != nil {
			return fmt.Errorf("read program %s: %w", ep.ProgramID, err)
		}
		return p.indexEpisode(ctx, ep, prog)
	}
	return nil
}

// withPopularity sets the popularity of each of docs from storage.
func (p *projection) withPopularity(ctx context.Context, docs []index.Doc) error {
	const chunk = 500
	for start := 0; start < len(docs); start += chunk {
		part := docs[start:min(start+chunk, len(docs))]
		ids := make([]uuid.UUID, 0, len(part))
		for _, d := range part {
			if id, err := uuid.Parse(d.ID); err == nil {
				ids = append(ids, id)
			}
		}
		rows, err := p.c.Popularity.Query().Where(popularity.IDIn(ids...)).All(ctx)
		if err != nil {
			return fmt.Errorf("read popularity: %w", err)
		}
		if len(rows) == 0 {
			continue
		}
		byID := make(map[string]float64, len(rows))
		for _, r := range rows {
			byID[r.ID.String()] = r.Popularity
		}
		for i := range part {
			part[i].Popularity = byID[part[i].ID]
		}
	}
	return nil
}
