package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
)

// sqliteDriverName is the database/sql name of the SQLite driver with statement caching.
const sqliteDriverName = "mediamesh-sqlite"

func init() {
	sql.Register(sqliteDriverName, cachingDriver{&sqlite.Driver{}})
}

// Limits of a connection's statement cache. Queries with many arguments are mostly IN lists and
// batch inserts, whose text changes with their length: they are prepared each time instead of
// filling the cache with texts that rarely repeat.
const (
	maxCachedStatements = 256
	maxCachedArgs       = 32
)

// cachingDriver opens SQLite connections that keep their prepared statements by query text and
// reuse them. ent writes the same few statements over and over, and preparing one (parsing
// and planning the SQL) was 13% of the CPU of the write path and 7% of an uncached list read.
// PostgreSQL needs none of this: pgx caches the statements of each connection itself.
type cachingDriver struct{ driver.Driver }

func (d cachingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return newCachingConn(c)
}

// cachingConn is a SQLite connection with a statement cache. database/sql uses a connection
// from one goroutine at a time, so the cache needs no lock.
type cachingConn struct {
	driver.Conn
	exec  driver.ExecerContext
	query driver.QueryerContext
	stmts map[string]*cachedStmt
}

// The interfaces of the SQLite connection that database/sql looks for.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

var _ sqliteConn = (*cachingConn)(nil)

func newCachingConn(c driver.Conn) (*cachingConn, error) {
	if _, ok := c.(sqliteConn); !ok {
		_ = c.Close()
		return nil, errors.New("database: the SQLite driver's connection lacks an interface the statement cache needs")
	}
	return &cachingConn{Conn: c, exec: c.(driver.ExecerContext), query: c.(driver.QueryerContext), stmts: map[string]*cachedStmt{}}, nil
}

// cachedStmt is a prepared statement; busy while rows of it are open (a second query with the
// same text on the connection then prepares a statement of its own).
type cachedStmt struct {
	driver.Stmt
	busy bool
}

// stmt returns the cached statement of query, preparing it on first use, or nil when query is
// not to be cached or is busy.
func (c *cachingConn) stmt(ctx context.Context, query string, args int) *cachedStmt {
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil
		}
		return s
	}
	if args > maxCachedArgs || len(c.stmts) >= maxCachedStatements {
		return nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil // run unprepared: the query reports its own error
	}
	s := &cachedStmt{Stmt: st}
	c.stmts[query] = s
	return s
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s := c.stmt(ctx, query, len(args))
	if s == nil {
		return c.exec.ExecContext(ctx, query, args)
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s := c.stmt(ctx, query, len(args))
	if s == nil {
		return c.query.QueryContext(ctx, query, args)
	}
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &cachedRows{Rows: rows, stmt: s}, nil
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// Close finalises the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for _, s := range c.stmts {
		errs = append(errs, s.Close())
	}
	clear(c.stmts)
	return errors.Join(append(errs, c.Conn.Close())...)
}

// cachedRows frees its statement for the next query when closed (the driver resets it).
type cachedRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.stmt.busy = false
	return err
}

// The column type information of the SQLite driver's rows, passed through for Rows.ColumnTypes.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}
