// Package outbox is the transactional outbox: a service appends an event to the outbox table in
// the same database transaction as the change the event describes, so the event exists if and
// only if the change committed. A relay (not in this package) reads the unsent rows in id order,
// publishes them (to Kafka, or in process in embedded mode) and marks them sent; consumers are
// idempotent on event_id, so a row published twice after a crash does no harm.
//
// Payloads are Avro single-object encoded (see Encode); consumers read them with eventbus.EventType
// and eventbus.Decode. This package writes and relays events; it does not decode them.
//
// Order: ids grow in insertion order. On PostgreSQL a transaction that inserted a lower id can
// commit after one that inserted a higher id, so the relay may see the higher one first; events
// of one aggregate still come in order as long as the writer changes the aggregate's row (and so
// holds its lock) in the transaction that appends the event, which every service does. Run one
// relay per database: several relays publishing the same rows would not keep that order.
package outbox

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// Component is the migration component of the outbox table in schema_migrations.
const Component = "outbox"

//go:embed migrations
var migrations embed.FS

// Migrations returns the outbox migrations (sqlite/ and postgres/), for database.DB.Migrate and
// database.DB.Pending with Component.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil { // cannot happen: the directory is embedded
		panic(err)
	}
	return sub
}

// Migrate creates or updates the outbox table in db.
func Migrate(ctx context.Context, db *database.DB) error {
	return db.Migrate(ctx, Component, Migrations())
}

// Pending returns the outbox migrations that db has not applied yet.
func Pending(ctx context.Context, db *database.DB) ([]string, error) {
	return db.Pending(ctx, Component, Migrations())
}

// Event is an event that can go into the outbox. The structs that tools/eventgen generates
// under gen/events implement it. Its Avro schema must have the fields event_id (string) and
// occurred_at (long, timestamp-millis), which every MediaMesh event schema has.
type Event interface {
	// EventType returns the event type, for example "content.created".
	EventType() string
	// Topic returns the topic the event is published to.
	Topic() string
	// MessageKey returns the message key, the id of the aggregate the event is about.
	MessageKey() string
	// AvroSchema returns the event's parsed Avro schema.
	AvroSchema() avro.Schema
}

// maxErrorLen bounds the error message MarkFailed stores, in bytes.
const maxErrorLen = 1024

// markBatch is how many ids MarkSent updates per statement.
const markBatch = 500

// envelope holds the fields every event schema has; Append reads them from the encoded event,
// so the row and its payload cannot disagree.
type envelope struct {
	EventID    string    `avro:"event_id"`
	OccurredAt time.Time `avro:"occurred_at"`
}

// Append encodes ev and inserts it into the outbox within tx; db gives the dialect. The row's
// event_id and occurred_at are read back from the encoded event, and the event must set both.
// headers (nil for none) travel with the message, for example trace_id and traceparent.
func Append(ctx context.Context, tx *sql.Tx, db *database.DB, ev Event, headers map[string]string) error {
	if tx == nil || db == nil || ev == nil {
		return errors.New("outbox: Append needs a transaction, a database and an event")
	}
	r, err := newRow(ctx, ev, headers)
	if err != nil {
		return err
	}
	return insertRows(ctx, tx, db, []outboxRow{r})
}

// AppendAll is Append of every event in evs, in order, with multi-row INSERTs: for a transaction
// that writes many changes (a bulk import), each with its event.
func AppendAll(ctx context.Context, tx *sql.Tx, db *database.DB, evs []Event) error {
	if tx == nil || db == nil {
		return errors.New("outbox: AppendAll needs a transaction and a database")
	}
	rows := make([]outboxRow, 0, len(evs))
	for _, ev := range evs {
		if ev == nil {
			return errors.New("outbox: AppendAll got a nil event")
		}
		r, err := newRow(ctx, ev, nil)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	const perInsert = 200 // 8 parameters a row: far below SQLite's and PostgreSQL's limits
	for start := 0; start < len(rows); start += perInsert {
		if err := insertRows(ctx, tx, db, rows[start:min(start+perInsert, len(rows))]); err != nil {
			return err
		}
	}
	return nil
}

// outboxRow is one outbox row to insert.
type outboxRow struct {
	eventID, topic, key, eventType string
	payload                        []byte
	headers                        string
	occurredAt                     time.Time
}

func newRow(ctx context.Context, ev Event, headers map[string]string) (outboxRow, error) {
	eventType, topic, key := ev.EventType(), ev.Topic(), ev.MessageKey()
	if eventType == "" || topic == "" {
		return outboxRow{}, fmt.Errorf("outbox: event %T has no event type or topic", ev)
	}
	if key == "" {
		return outboxRow{}, fmt.Errorf("outbox: %s event has no aggregate id (message key)", eventType)
	}
	payload, err := Encode(ev)
	if err != nil {
		return outboxRow{}, err
	}
	var env envelope
	if err := avro.Unmarshal(ev.AvroSchema(), payload[eventbus.SingleObjectHeaderLen:], &env); err != nil {
		return outboxRow{}, fmt.Errorf("outbox: %s event: read event_id and occurred_at: %w", eventType, err)
	}
	if env.EventID == "" {
		return outboxRow{}, fmt.Errorf("outbox: %s event has no event_id", eventType)
	}
	if env.OccurredAt.IsZero() {
		return outboxRow{}, fmt.Errorf("outbox: %s event %s has no occurred_at", eventType, env.EventID)
	}
	all := map[string]string{}
	telemetry.Inject(ctx, all) // the consumers' spans continue the writer's trace
	for k, v := range headers {
		all[k] = v
	}
	hdr, err := json.Marshal(all)
	if err != nil {
		return outboxRow{}, fmt.Errorf("outbox: %s event %s: headers: %w", eventType, env.EventID, err)
	}
	return outboxRow{eventID: env.EventID, topic: topic, key: key, eventType: eventType, payload: payload, headers: string(hdr), occurredAt: env.OccurredAt.UTC()}, nil
}

// insertRows inserts rows with one INSERT, in their order (ascending ids).
func insertRows(ctx context.Context, tx *sql.Tx, db *database.DB, rows []outboxRow) error {
	var q strings.Builder
	q.WriteString(`INSERT INTO outbox
		(event_id, topic, aggregate_id, event_type, payload, headers, occurred_at, created_at)
		VALUES `)
	args := make([]any, 0, 8*len(rows))
	now := time.Now().UTC()
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, r.eventID, r.topic, r.key, r.eventType, r.payload, r.headers, r.occurredAt, now)
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(q.String()), args...); err != nil {
		if len(rows) == 1 {
			return fmt.Errorf("outbox: append %s event %s: %w", rows[0].eventType, rows[0].eventID, err)
		}
		return fmt.Errorf("outbox: append %d events: %w", len(rows), err)
	}
	return nil
}

// Record is one outbox row.
type Record struct {
	// ID orders the rows: the relay publishes them in ascending ID order.
	ID int64
	// EventID is the event's unique id.
	EventID string
	// Topic is the topic to publish to.
	Topic string
	// AggregateID is the id of the aggregate the event is about, the message key.
	AggregateID string
	// EventType is the event type, for example "content.created".
	EventType string
	// Payload is the event, Avro single-object encoded (see eventbus.ParseSingleObject and eventbus.Decode).
	Payload []byte
	// Headers are the message headers given to Append (never nil).
	Headers map[string]string
	// OccurredAt is the event's occurred_at, in UTC.
	OccurredAt time.Time
	// CreatedAt is when the row was appended, in UTC.
	CreatedAt time.Time
	// Attempts counts the publication attempts recorded by MarkSent and MarkFailed.
	Attempts int
	// LastError is the error of the last failed attempt, empty when none failed.
	LastError string
}

// Unsent returns up to limit unsent rows, failed ones included, in id order.
func Unsent(ctx context.Context, db *database.DB, limit int) ([]Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("outbox: Unsent limit must be positive, got %d", limit)
	}
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT
		id, event_id, topic, aggregate_id, event_type, payload, headers, occurred_at, created_at, attempts, last_error
		FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: read unsent: %w", err)
	}
	return scanRecords(rows)
}

// scanRecords reads outbox rows selected in Record order and closes rows.
func scanRecords(rows *sql.Rows) ([]Record, error) {
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var (
			r         Record
			headers   string
			lastError sql.NullString
		)
		if err := rows.Scan(&r.ID, &r.EventID, &r.Topic, &r.AggregateID, &r.EventType, &r.Payload, &headers,
			&r.OccurredAt, &r.CreatedAt, &r.Attempts, &lastError); err != nil {
			return nil, fmt.Errorf("outbox: read rows: %w", err)
		}
		if err := json.Unmarshal([]byte(headers), &r.Headers); err != nil {
			return nil, fmt.Errorf("outbox: row %d: headers: %w", r.ID, err)
		}
		if r.Headers == nil {
			r.Headers = map[string]string{}
		}
		r.OccurredAt, r.CreatedAt, r.LastError = r.OccurredAt.UTC(), r.CreatedAt.UTC(), lastError.String
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: read rows: %w", err)
	}
	return out, nil
}

// MarkSent records that the rows with ids were published. Rows already marked sent keep their
// first sent_at; unknown ids are ignored.
func MarkSent(ctx context.Context, db *database.DB, ids ...int64) error {
	now := time.Now().UTC()
	for len(ids) > 0 {
		batch := ids[:min(len(ids), markBatch)]
		ids = ids[len(batch):]
		args := make([]any, 0, len(batch)+1)
		args = append(args, now)
		for _, id := range batch {
			args = append(args, id)
		}
		q := `UPDATE outbox SET sent_at = ?, attempts = attempts + 1 WHERE sent_at IS NULL AND id IN (?` +
			strings.Repeat(", ?", len(batch)-1) + `)`
		if _, err := db.ExecContext(ctx, db.Rebind(q), args...); err != nil {
			return fmt.Errorf("outbox: mark sent: %w", err)
		}
	}
	return nil
}

// MarkFailed records a failed attempt to publish the row with id: it counts the attempt and
// keeps cause's message (at most 1 KiB of it). The row stays unsent.
func MarkFailed(ctx context.Context, db *database.DB, id int64, cause error) error {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	_, err := db.ExecContext(ctx,
		db.Rebind(`UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ? AND sent_at IS NULL`),
		truncateError(msg), id)
	if err != nil {
		return fmt.Errorf("outbox: mark row %d failed: %w", id, err)
	}
	return nil
}

// Backlog returns the number of unsent rows.
func Backlog(ctx context.Context, db *database.DB) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox: backlog: %w", err)
	}
	return n, nil
}

// PurgeSent deletes the rows sent before before and returns how many it deleted. Unsent rows
// are never deleted.
func PurgeSent(ctx context.Context, db *database.DB, before time.Time) (int64, error) {
	res, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?`), before.UTC())
	if err != nil {
		return 0, fmt.Errorf("outbox: purge sent: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("outbox: purge sent: %w", err)
	}
	return n, nil
}

// truncateError makes msg storable: valid UTF-8 without NUL bytes (PostgreSQL text refuses
// them), at most maxErrorLen bytes.
func truncateError(msg string) string {
	msg = strings.ToValidUTF8(strings.ReplaceAll(msg, "\x00", ""), "\uFFFD")
	if len(msg) <= maxErrorLen {
		return msg
	}
	cut := maxErrorLen
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}

// Encode returns ev as the outbox stores and the relay publishes it: Avro single-object encoded
// (eventbus.Encode), which consumers read with eventbus.EventType and eventbus.Decode.
func Encode(ev Event) ([]byte, error) {
	payload, err := eventbus.Encode(ev.AvroSchema(), ev)
	if err != nil {
		return nil, fmt.Errorf("outbox: %s event: %w", ev.EventType(), err)
	}
	return payload, nil
}
