package database

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors that Migrate and Pending wrap when the migrations recorded in the database and the
// migration files disagree. Neither applies anything then: the drift needs a person.
var (
	// ErrChecksumMismatch means an applied migration's file was edited after it was applied.
	ErrChecksumMismatch = errors.New("applied migration was changed")
	// ErrMigrationMissing means a migration is recorded as applied but its file is gone.
	ErrMigrationMissing = errors.New("applied migration is missing")
	// ErrOutOfOrder means an unapplied migration has a lower version than an applied one
	// (typically two branches picked the same range of numbers); renumber it.
	ErrOutOfOrder = errors.New("migration is older than the newest applied one")
)

// migrationFile matches a migration file name, NNNN_description.sql.
var migrationFile = regexp.MustCompile(`^([0-9]{4,})_([a-z0-9][a-z0-9_]*)\.sql$`)

// componentName matches a valid component name.
var componentName = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)

// lockQuery takes the PostgreSQL advisory lock that serialises migrations for the rest of the
// transaction. The key is derived from the current schema, where schema_migrations lives, so
// databases that share a server but not a schema (tests, say) do not wait for each other.
const lockQuery = `SELECT pg_advisory_xact_lock(hashtextextended('mediamesh.schema_migrations:' || COALESCE(current_schema(), ''), 0))`

// Migrations are the migration files of one component (a service's tables, the outbox, ...), for
// Migrate and Pending.
type Migrations struct {
	Component string
	FS        fs.FS
}

// migration is one migration file.
type migration struct {
	version  int64
	name     string // file name, e.g. 0001_create_outbox.sql
	checksum string // hex SHA-256 of the file
	body     string
}

// appliedMigration is one row of schema_migrations.
type appliedMigration struct {
	version  int64
	name     string
	checksum string
}

// Migrate applies the migrations of component that the database has not applied yet.
//
// The files come from fsys, in the directory of the database's dialect: sqlite/ or postgres/
// (or migrations/sqlite/ and migrations/postgres/, so a package can pass the embed.FS of
// `//go:embed migrations` as is). Each is named NNNN_description.sql (at least four digits, a
// lowercase description); any other .sql file there is an error, other files are ignored.
// Migrate applies them in version order, each in its own transaction together with its row in
// schema_migrations (component, version, name, checksum, applied_at), a table it creates when
// missing. A migration therefore must not contain transaction control or statements that cannot
// run in a transaction (CREATE INDEX CONCURRENTLY).
//
// Before applying anything, Migrate checks the recorded migrations against the files and refuses
// (wrapping ErrChecksumMismatch, ErrMigrationMissing or ErrOutOfOrder) when an applied file was
// edited or removed, or a new file sorts before an applied one. Concurrent Migrate calls, in one
// process or several, apply each migration once: on PostgreSQL every migration transaction
// holds a transaction-level advisory lock (one per schema) and re-checks schema_migrations under
// it; on SQLite the transaction's write lock (BEGIN IMMEDIATE, see Open) does the same.
func (db *DB) Migrate(ctx context.Context, component string, fsys fs.FS) error {
	files, dir, err := db.loadMigrations(component, fsys)
	if err != nil {
		return err
	}
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.createMigrationsTable())
		return err
	})
	if err != nil {
		return fmt.Errorf("database: create schema_migrations: %w", err)
	}
	applied, err := db.appliedMigrations(ctx, component)
	if err != nil {
		return err
	}
	pending, err := plan(component, dir, files, applied)
	if err != nil {
		return err
	}
	for _, m := range pending {
		run := db.InTx
		if db.Dialect == SQLite && foreignKeysOff.MatchString(m.body) {
			run = db.inTxForeignKeysOff
		}
		if err := run(ctx, func(tx *sql.Tx) error { return db.apply(ctx, tx, component, dir, m) }); err != nil {
			return fmt.Errorf("database: %s migration %s/%s: %w", component, dir, m.name, err)
		}
	}
	return nil
}

// Pending returns the file names of the migrations of component that Migrate would apply, in
// order, without changing the database. It refuses drift exactly as Migrate does.
func (db *DB) Pending(ctx context.Context, component string, fsys fs.FS) ([]string, error) {
	files, dir, err := db.loadMigrations(component, fsys)
	if err != nil {
		return nil, err
	}
	var applied []appliedMigration
	exists, err := db.migrationsTableExists(ctx)
	if err != nil {
		return nil, err
	}
	if exists {
		if applied, err = db.appliedMigrations(ctx, component); err != nil {
			return nil, err
		}
	}
	pending, err := plan(component, dir, files, applied)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(pending))
	for i, m := range pending {
		names[i] = m.name
	}
	return names, nil
}

// apply runs m and records it, unless another process applied it meanwhile.
func (db *DB) apply(ctx context.Context, tx *sql.Tx, component, dir string, m migration) error {
	if err := db.lockMigrations(ctx, tx); err != nil {
		return err
	}
	var checksum string
	err := tx.QueryRowContext(ctx, db.Rebind(`SELECT checksum FROM schema_migrations WHERE component = ? AND version = ?`),
		component, m.version).Scan(&checksum)
	switch {
	case err == nil: // applied by a concurrent Migrate
		if checksum != m.checksum {
			return checksumError(component, dir, m.name, m.checksum, checksum)
		}
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if _, err := tx.ExecContext(ctx, m.body); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx,
		db.Rebind(`INSERT INTO schema_migrations (component, version, name, checksum, applied_at) VALUES (?, ?, ?, ?, ?)`),
		component, m.version, m.name, m.checksum, time.Now().UTC())
	return err
}

// foreignKeysOff matches the pragma with which Atlas opens a SQLite migration that rebuilds a
// table (create new_t, copy, drop t, rename).
var foreignKeysOff = regexp.MustCompile(`(?im)^\s*PRAGMA\s+foreign_keys\s*=\s*(off|0|false)\s*;`)

// inTxForeignKeysOff runs fn in a transaction on a connection whose foreign-key enforcement is
// off, as SQLite's table rebuild wants (https://sqlite.org/lang_altertable.html#otheralter): the
// migration's own PRAGMA foreign_keys does nothing inside a transaction, and with enforcement on,
// dropping a rebuilt parent table would run its ON DELETE CASCADE actions on the children. Before
// committing it runs PRAGMA foreign_key_check and refuses a rebuild that broke a reference.
func (db *DB) inTxForeignKeysOff(ctx context.Context, fn func(tx *sql.Tx) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`) }()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	var broken []string
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			rows.Close()
			return err
		}
		broken = append(broken, fmt.Sprintf("%s row %d references a missing %s", table, rowid.Int64, parent))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(broken) > 0 {
		return fmt.Errorf("foreign key check: %s", strings.Join(broken, "; "))
	}
	return tx.Commit()
}

// lockMigrations takes the migration lock for the rest of tx (see lockQuery). On SQLite the
// transaction already holds the database's write lock (BEGIN IMMEDIATE).
func (db *DB) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if db.Dialect != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, lockQuery); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	return nil
}

// createMigrationsTable returns the DDL of schema_migrations.
func (db *DB) createMigrationsTable() string {
	ts := "TIMESTAMP"
	if db.Dialect == Postgres {
		ts = "TIMESTAMPTZ"
	}
	return `CREATE TABLE IF NOT EXISTS schema_migrations (
	component  TEXT   NOT NULL,
	version    BIGINT NOT NULL,
	name       TEXT   NOT NULL,
	checksum   TEXT   NOT NULL,
	applied_at ` + ts + ` NOT NULL,
	PRIMARY KEY (component, version)
)`
}

// migrationsTableExists reports whether schema_migrations exists (in the search path, for
// PostgreSQL).
func (db *DB) migrationsTableExists(ctx context.Context) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if db.Dialect == Postgres {
		q = `SELECT COUNT(*) FROM (SELECT to_regclass('schema_migrations') AS t) r WHERE t IS NOT NULL`
	}
	var n int
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, fmt.Errorf("database: look for schema_migrations: %w", err)
	}
	return n > 0, nil
}

// appliedMigrations returns the recorded migrations of component in version order.
func (db *DB) appliedMigrations(ctx context.Context, component string) ([]appliedMigration, error) {
	rows, err := db.QueryContext(ctx,
		db.Rebind(`SELECT version, name, checksum FROM schema_migrations WHERE component = ? ORDER BY version`), component)
	if err != nil {
		return nil, fmt.Errorf("database: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var applied []appliedMigration
	for rows.Next() {
		var a appliedMigration
		if err := rows.Scan(&a.version, &a.name, &a.checksum); err != nil {
			return nil, fmt.Errorf("database: read schema_migrations: %w", err)
		}
		applied = append(applied, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("database: read schema_migrations: %w", err)
	}
	return applied, nil
}

// loadMigrations reads the migration files of the database's dialect from fsys, sorted by
// version, and returns them with the directory they came from.
func (db *DB) loadMigrations(component string, fsys fs.FS) ([]migration, string, error) {
	if !componentName.MatchString(component) {
		return nil, "", fmt.Errorf("database: invalid migration component %q: want lowercase letters, digits, _ . -", component)
	}
	if fsys == nil {
		return nil, "", fmt.Errorf("database: %s migrations: nil fs.FS", component)
	}
	dialect := string(db.Dialect)
	var dir string
	for _, d := range []string{dialect, path.Join("migrations", dialect)} {
		if st, err := fs.Stat(fsys, d); err == nil && st.IsDir() {
			dir = d
			break
		}
	}
	if dir == "" {
		return nil, "", fmt.Errorf("database: %s migrations: no %s/ directory (nor migrations/%s/) in the migrations fs.FS", component, dialect, dialect)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, "", fmt.Errorf("database: %s migrations: %w", component, err)
	}
	var files []migration
	seen := map[int64]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		match := migrationFile.FindStringSubmatch(e.Name())
		if match == nil {
			return nil, "", fmt.Errorf("database: %s migration %s/%s: name must look like 0001_description.sql (digits, underscore, lowercase description)", component, dir, e.Name())
		}
		version, err := strconv.ParseInt(match[1], 10, 64)
		if err != nil || version == 0 {
			return nil, "", fmt.Errorf("database: %s migration %s/%s: version must be a number from 1", component, dir, e.Name())
		}
		if other, dup := seen[version]; dup {
			return nil, "", fmt.Errorf("database: %s migrations %s/%s and %s share version %d", component, dir, other, e.Name(), version)
		}
		seen[version] = e.Name()
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, "", fmt.Errorf("database: %s migration %s/%s: %w", component, dir, e.Name(), err)
		}
		sum := sha256.Sum256(body)
		files = append(files, migration{version: version, name: e.Name(), checksum: hex.EncodeToString(sum[:]), body: string(body)})
	}
	slices.SortFunc(files, func(a, b migration) int { return cmpInt64(a.version, b.version) })
	return files, dir, nil
}

// plan checks the applied migrations against the files and returns the files to apply.
func plan(component, dir string, files []migration, applied []appliedMigration) ([]migration, error) {
	byVersion := make(map[int64]migration, len(files))
	for _, f := range files {
		byVersion[f.version] = f
	}
	done := make(map[int64]bool, len(applied))
	var newest int64
	for _, a := range applied {
		f, ok := byVersion[a.version]
		if !ok {
			return nil, fmt.Errorf("database: %s migration %s (version %d): %w: it is recorded as applied but %s/ has no file with that version; restore the file (an applied migration is never deleted)",
				component, a.name, a.version, ErrMigrationMissing, dir)
		}
		if f.checksum != a.checksum {
			return nil, checksumError(component, dir, f.name, f.checksum, a.checksum)
		}
		done[a.version] = true
		newest = max(newest, a.version)
	}
	var pending []migration
	for _, f := range files {
		if done[f.version] {
			continue
		}
		if f.version < newest {
			return nil, fmt.Errorf("database: %s migration %s/%s: %w (version %d is applied); give it a version above %d",
				component, dir, f.name, ErrOutOfOrder, newest, newest)
		}
		pending = append(pending, f)
	}
	return pending, nil
}

// checksumError reports that the file of an applied migration changed.
func checksumError(component, dir, name, fileSum, recordedSum string) error {
	return fmt.Errorf("database: %s migration %s/%s: %w: the file's SHA-256 is %.12s… but %.12s… was recorded when it was applied; revert the edit and put the change in a new migration",
		component, dir, name, ErrChecksumMismatch, fileSum, recordedSum)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
