// Package database opens a service's own database, SQLite in embedded mode and PostgreSQL in
// split mode, behind one *sql.DB. It adds what every service needs on top of database/sql:
// placeholder rebinding (write `?`, run on either dialect), a transaction helper, and versioned,
// checksummed migrations (see Migrate).
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	// Register the "pgx" database/sql driver (the SQLite one is registered in stmtcache.go).
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Dialect names the SQL dialect of a database.
type Dialect string

// The supported dialects.
const (
	// SQLite is an embedded SQLite database (modernc.org/sqlite, pure Go).
	SQLite Dialect = "sqlite"
	// Postgres is a PostgreSQL server (github.com/jackc/pgx/v5 through database/sql).
	Postgres Dialect = "postgres"
)

// DB is an open database and its dialect. It embeds *sql.DB, so every database/sql method is
// available; write queries with `?` placeholders and pass them through Rebind.
type DB struct {
	*sql.DB
	// Dialect is the SQL dialect of the database.
	Dialect Dialect

	// reader is, for an SQLite file, a pool of read-only connections beside the one connection
	// that writes (see Reads); nil for PostgreSQL and in-memory SQLite.
	reader *sql.DB
	// group commits the transactions of concurrent InTx calls together on SQLite; nil for
	// PostgreSQL, whose server commits concurrent transactions on its own.
	group *groupCommit

	afterCommit atomic.Pointer[[]func()]
}

// readerConns is the size of an SQLite file's pool of read-only connections.
const readerConns = 4

// Reads returns the pool for queries outside a transaction that only read. For an SQLite file it
// is a pool of read-only connections: in WAL mode they read in parallel with each other and with
// the writer, each seeing what was committed when its statement began, where the one connection
// of the DB would queue every read behind the others and behind every write. Otherwise it is
// the DB's own pool.
func (db *DB) Reads() *sql.DB {
	if db.reader != nil {
		return db.reader
	}
	return db.DB
}

// Close closes the database's pools.
func (db *DB) Close() error {
	if db.group != nil {
		db.group.close()
	}
	var err error
	if db.reader != nil {
		err = db.reader.Close()
	}
	return errors.Join(db.DB.Close(), err)
}

// EntDialect returns the name ent (entgo.io/ent/dialect) gives the database's dialect, for
// an ent driver of its own (see Ent and EntTx).
func (db *DB) EntDialect() string {
	if db.Dialect == SQLite {
		return "sqlite3"
	}
	return "postgres"
}

// sqliteParams are the connection parameters of every SQLite connection:
//   - busy_timeout: wait up to 5 s for a lock held by another connection or process instead of
//     failing at once with SQLITE_BUSY;
//   - journal_mode WAL: readers do not block the writer and the writer does not block readers;
//   - synchronous NORMAL: a commit is appended to the WAL without waiting for the disk; the WAL
//     is synced at each checkpoint. The database stays consistent whatever happens, and a crash
//     of the process loses nothing, but a power cut or a crash of the machine can lose the last
//     transactions committed before it (the trade-off PocketBase and most SQLite services make:
//     FULL, SQLite's default, waits for a sync at every commit and wrote 3-4x fewer transactions
//     a second here). Where that window matters, run on PostgreSQL.
//   - foreign_keys: enforce FOREIGN KEY constraints (SQLite leaves them off by default);
//   - _txlock=immediate: BEGIN takes the write lock at once, so two writers queue on busy_timeout
//     instead of one of them failing when it upgrades a read lock (a failure busy_timeout cannot
//     retry); it also serialises Migrate across processes sharing the file;
//   - _time_format=sqlite: write time.Time as "2006-01-02 15:04:05.999999999-07:00", which
//     SQLite's date functions understand and which sorts as text when every value is UTC.
var sqliteParams = url.Values{
	"_pragma":      {"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"},
	"_txlock":      {"immediate"},
	"_time_format": {"sqlite"},
}

// Open opens and pings the database at rawURL. The URL picks the dialect:
//
//	sqlite:///abs/path/file.db   SQLite file at an absolute path
//	sqlite:relative/file.db      SQLite file relative to the working directory
//	sqlite::memory:              private in-memory SQLite database
//	postgres://user:pass@host:5432/db?sslmode=disable   PostgreSQL (also postgresql://)
//
// For SQLite, Open creates the file's parent directories, and the pool holds a single
// connection (SetMaxOpenConns(1)): SQLite has one writer at a time anyway, one connection
// never meets SQLITE_BUSY inside the process, and an in-memory database lives in its one
// connection. The consequence: inside InTx use only the *sql.Tx; a query on the DB itself
// waits for the transaction's connection and so never returns until ctx ends.
//
// For PostgreSQL the URL goes to pgx unchanged: libpq parameters such as sslmode work, and any
// other parameter (search_path, application_name, ...) is sent as a run-time parameter. Tune the
// pool through the embedded *sql.DB. Errors name the scheme and never contain the password.
func Open(ctx context.Context, rawURL string, opts ...OpenOption) (*DB, error) {
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok || scheme == "" {
		return nil, errors.New("database: URL has no scheme; want sqlite:PATH, sqlite::memory: or postgres://")
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		return openSQLite(ctx, rawURL[len(scheme)+1:], o)
	case "postgres", "postgresql":
		return openPostgres(ctx, rawURL, o)
	default:
		return nil, fmt.Errorf("database: unsupported URL scheme %q; want sqlite or postgres", scheme)
	}
}

// OpenOption changes how Open opens a database.
type OpenOption func(*openOptions)

type openOptions struct{ untraced bool }

// Untraced opens the database without the OpenTelemetry instrumentation, for a process that exports
// no traces. The instrumentation's spans would go nowhere there, and its metrics go nowhere in any
// process (the platform's metrics are Prometheus's); under a write load it cost about 4% of the
// CPU and a tenth of the allocations, for every statement and row.
func Untraced() OpenOption { return func(o *openOptions) { o.untraced = true } }

// openSQL opens driverName's dsn, instrumented unless o says untraced.
func openSQL(driverName, dsn string, o openOptions, system attribute.KeyValue) (*sql.DB, error) {
	if o.untraced {
		return sql.Open(driverName, dsn)
	}
	return otelsql.Open(driverName, dsn, traced(system)...)
}

// traced are the options of the OpenTelemetry instrumentation of every database: a span per
// statement and transaction, but only within a trace (a request's or an event's), so the relays'
// polling makes no spans of its own; no spans for connection housekeeping or row iteration.
func traced(system attribute.KeyValue) []otelsql.Option {
	return []otelsql.Option{
		otelsql.WithAttributes(system),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			OmitConnResetSession: true, OmitConnPrepare: true, OmitRows: true, OmitConnectorConnect: true,
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanContextFromContext(ctx).IsValid()
			},
		}),
	}
}

// openSQLite opens the SQLite database named by rest, the URL after "sqlite:".
func openSQLite(ctx context.Context, rest string, o openOptions) (*DB, error) {
	path, err := sqlitePath(rest)
	if err != nil {
		return nil, err
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("database: sqlite %s: create directory: %w", path, err)
		}
	}
	sqlDB, err := openSQL(sqliteDriverName, path+"?"+sqliteParams.Encode(), o, semconv.DBSystemSqlite)
	if err != nil {
		return nil, fmt.Errorf("database: sqlite %s: %w", path, err)
	}
	sqlDB.SetMaxOpenConns(1)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("database: sqlite %s: %w", path, err)
	}
	db := &DB{DB: sqlDB, Dialect: SQLite}
	db.group = newGroupCommit(db)
	if path == ":memory:" {
		return db, nil // a private in-memory database lives in its one connection
	}
	// The readers open after the writer made the file WAL (a setting the file keeps), and are
	// read-only: query_only refuses any write on them.
	readParams := url.Values{"_pragma": {"busy_timeout(5000)", "query_only(1)"}, "_time_format": sqliteParams["_time_format"]}
	if db.reader, err = openSQL(sqliteDriverName, path+"?"+readParams.Encode(), o, semconv.DBSystemSqlite); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("database: sqlite %s: %w", path, err)
	}
	db.reader.SetMaxOpenConns(readerConns)
	db.reader.SetMaxIdleConns(readerConns)
	return db, nil
}

// sqlitePath returns the file path (or ":memory:") that rest, the URL after "sqlite:", names.
func sqlitePath(rest string) (string, error) {
	if rest == ":memory:" {
		return rest, nil
	}
	if strings.ContainsAny(rest, "?#") {
		return "", errors.New("database: sqlite URL must not have a query or fragment; Open sets the connection parameters itself")
	}
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		if !strings.HasPrefix(after, "/") {
			return "", errors.New("database: sqlite URL has a host (want sqlite:///abs/path.db or sqlite:relative/path.db)")
		}
		rest = after
	}
	if rest == "" || strings.HasSuffix(rest, "/") {
		return "", errors.New("database: sqlite URL has no file name (want sqlite:///abs/path.db, sqlite:relative/path.db or sqlite::memory:)")
	}
	return filepath.Clean(rest), nil
}

// openPostgres opens the PostgreSQL database at rawURL through the pgx stdlib driver.
func openPostgres(ctx context.Context, rawURL string, o openOptions) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// A *url.Error quotes the whole URL, password included: keep only its reason.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, &redactedError{err: fmt.Errorf("database: invalid postgres URL: %w", err), secrets: urlSecrets(rawURL, nil)}
	}
	where := redactURL(u)
	wrap := func(err error) error {
		return &redactedError{err: fmt.Errorf("database: postgres %s: %w", where, err), secrets: urlSecrets(rawURL, u), shown: where}
	}
	sqlDB, err := openSQL("pgx", rawURL, o, semconv.DBSystemPostgreSQL)
	if err != nil {
		return nil, wrap(err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, wrap(err)
	}
	db := &DB{DB: sqlDB, Dialect: Postgres}
	db.SetPool(DefaultPool)
	return db, nil
}

// Pool sizes the connection pool of a PostgreSQL database.
type Pool struct {
	// MaxConns caps the connections open at once; 0: no cap. A cap must leave room for the
	// transactions that take a second connection while they hold one (the search service's
	// PostgreSQL index writes in a transaction of its own while the consumer's is open): a cap at
	// or below the number of such concurrent transactions deadlocks them.
	MaxConns  int
	IdleConns int           // connections kept open while idle
	IdleTime  time.Duration // how long an idle connection is kept before it is closed
}

// DefaultPool is the pool a PostgreSQL database opens with.
var DefaultPool = Pool{IdleConns: 10, IdleTime: 5 * time.Minute}

// SetPool sizes a PostgreSQL database's pool. database/sql's own default keeps only two idle
// connections, so any concurrency above two opened and closed server connections all the time: a
// PostgreSQL backend started and a SCRAM authentication for every few statements, which capped
// concurrent writes; the pool keeps p.IdleConns now. The pools of SQLite are fixed (one writer,
// readerConns readers): SetPool leaves them alone.
func (db *DB) SetPool(p Pool) {
	if db.Dialect != Postgres {
		return
	}
	db.SetMaxOpenConns(p.MaxConns)
	db.SetMaxIdleConns(p.IdleConns)
	db.SetConnMaxIdleTime(p.IdleTime)
}

// redactURL returns u as text with the password of its user info and its password parameter
// replaced by xxxxx.
func redactURL(u *url.URL) string {
	c := *u
	if q := c.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		c.RawQuery = q.Encode()
	}
	return c.Redacted()
}

// urlSecrets returns the passwords a postgres URL carries, in its user info or its password
// parameter, decoded and as written, so an error message can be scrubbed of them.
func urlSecrets(rawURL string, u *url.URL) []string {
	var secrets []string
	add := func(s string) {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	if u != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
		add(u.Query().Get("password"))
	}
	// The raw user info, in case the URL did not parse or the password was percent-encoded.
	if _, rest, ok := strings.Cut(rawURL, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, p, ok := strings.Cut(rest[:at], ":"); ok {
				add(p)
			}
		}
	}
	return secrets
}

// redactedError is an error whose message is scrubbed of secrets; Unwrap still returns the
// original error for errors.Is and errors.As. The drivers do not put passwords in their errors;
// this is the safety net.
type redactedError struct {
	err     error
	secrets []string
	// shown is the already-redacted URL in the message. A secret that occurs in it (a password
	// equal to the user name, say) is replaced only where it stands as a password, so the
	// message stays readable; elsewhere it is replaced wherever it occurs.
	shown string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		msg = strings.ReplaceAll(msg, ":"+s+"@", ":xxxxx@")
		msg = strings.ReplaceAll(msg, "password="+s, "password=xxxxx")
		if !strings.Contains(e.shown, s) {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }

// Rebind returns query with its `?` placeholders rewritten for the database's dialect: `$1`,
// `$2`, ... for PostgreSQL, unchanged for SQLite. A `?` inside a single-quoted string literal,
// a double-quoted identifier or a comment is left alone. PostgreSQL's jsonb operators `?`, `?|`
// and `?&` cannot be written through Rebind; use jsonb_exists and its siblings instead.
func (db *DB) Rebind(query string) string {
	if db.Dialect != Postgres || !strings.Contains(query, "?") {
		return query
	}
	return rebindDollar(query)
}

// rebindDollar rewrites the `?` placeholders of query, outside literals, identifiers and
// comments, as $1, $2, ...
func rebindDollar(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			// A quoted literal or identifier; a doubled quote inside it is an escaped quote,
			// which this loop handles as closing and reopening.
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+1])
			i += end
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+4])
			i += end + 3
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// InTx runs fn in a transaction. It commits when fn returns nil and rolls back when fn returns
// an error (which InTx returns as is, so errors.Is and errors.As see it) or panics (the panic
// continues after the rollback). With SQLite, fn must use only tx: see Open.
//
// On SQLite the transactions of concurrent calls commit together (see groupCommit): fn may then
// share its transaction with others, each inside a savepoint of its own, so what it wrote is
// rolled back alone when it fails, and commits, with one write of the log, when it succeeds.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var err error
	if db.group != nil {
		err = db.group.run(ctx, fn)
	} else {
		err = db.ownTx(ctx, fn)
	}
	if err == nil {
		db.committed() // in the caller's goroutine: a hook may start a transaction of its own
	}
	return err
}

// ownTx runs fn in a transaction of its own (see InTx), without the AfterCommit hooks.
func (db *DB) ownTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("database: begin transaction: %w", err)
	}
	done := false
	defer func() {
		if !done { // fn panicked or called runtime.Goexit
			_ = tx.Rollback()
		}
	}()
	err = fn(tx)
	done = true
	if err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("database: rollback: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("database: commit: %w", err)
	}
	return nil
}

// committed runs the AfterCommit hooks.
func (db *DB) committed() {
	if hooks := db.afterCommit.Load(); hooks != nil {
		for _, h := range *hooks {
			h()
		}
	}
}

// AfterCommit registers fn to run after every transaction InTx commits, in the goroutine that
// called InTx, for example to wake the outbox relay at once instead of at its next poll. fn
// should be quick.
func (db *DB) AfterCommit(fn func()) {
	for {
		old := db.afterCommit.Load()
		var next []func()
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, fn)
		if db.afterCommit.CompareAndSwap(old, &next) {
			return
		}
	}
}
