package inbox

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
)

// recordChunk is how many event ids one statement of RecordAll inserts (three parameters each).
const recordChunk = 200

// RecordAll records in tx that consumer applied the events ids, as Record does for one, in one
// multi-row statement per 200 ids instead of one statement each (a consumer run of engagement
// events records hundreds). It reports, for each id in order, whether it is fresh: not recorded
// before, nor earlier in ids. Should the transaction roll back, nothing is recorded.
func RecordAll(ctx context.Context, db *database.DB, tx *sql.Tx, consumer string, ids []string) ([]bool, error) {
	fresh := make([]bool, len(ids))
	now := time.Now().UnixMilli()
	for start := 0; start < len(ids); start += recordChunk {
		chunk := ids[start:min(start+recordChunk, len(ids))]
		var q strings.Builder
		q.WriteString(`INSERT INTO inbox (consumer, event_id, processed_at) VALUES `)
		args := make([]any, 0, 3*len(chunk))
		for i, id := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?)")
			args = append(args, consumer, id, now)
		}
		q.WriteString(` ON CONFLICT DO NOTHING RETURNING event_id`)
		rows, err := tx.QueryContext(ctx, db.Rebind(q.String()), args...)
		if err != nil {
			return nil, fmt.Errorf("inbox: record: %w", err)
		}
		inserted := make(map[string]bool, len(chunk))
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("inbox: record: %w", err)
			}
			inserted[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("inbox: record: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("inbox: record: %w", err)
		}
		for i, id := range chunk {
			if inserted[id] { // the first of repeated ids in the chunk is the fresh one
				fresh[start+i] = true
				delete(inserted, id)
			}
		}
	}
	return fresh, nil
}
