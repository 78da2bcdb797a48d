package search

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/searchdb"
	"github.com/mediamesh/mediamesh/ent/searchdb/program"
)

// loadChunk is how many programs LoadIndex reads and indexes at a time.
const loadChunk = 500

// LoadIndex writes the documents of everything the storage holds (the published programs, each
// with its published episodes) into the index, and returns how many programs it read. An index
// that lives in memory (index.Memory) is empty at every start: call LoadIndex before the service
// consumes events. The documents carry a version from the clock, so that whatever an event
// writes later replaces them.
func (s *Service) LoadIndex(ctx context.Context) (int, error) {
	start := time.Now()
	programs := 0
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := s.inTx(tx)
		version, err := tick(ctx, s.db, tx, time.Now())
		if err != nil {
			return err
		}
		w := &pending{index: s.index, log: s.log}
		p := &projection{c: c, index: w, log: s.log, version: version}
		var after uuid.UUID
		for {
			rows, err := c.Program.Query().Where(program.IDGT(after)).Order(searchdb.Asc(program.FieldID)).Limit(loadChunk).All(ctx)
			if err != nil {
				return fmt.Errorf("read programs: %w", err)
			}
			if len(rows) == 0 {
				return nil
			}
			if err := p.indexPrograms(ctx, rows, true); err != nil {
				return err
			}
			if err := w.flush(ctx); err != nil {
				return err
			}
			programs += len(rows)
			after = rows[len(rows)-1].ID
		}
	})
	if err != nil {
		return 0, fmt.Errorf("search: load the index: %w", err)
	}
	s.log.InfoContext(ctx, "search index loaded from storage", "programs", programs, "took_ms", time.Since(start).Milliseconds())
	return programs, nil
}
