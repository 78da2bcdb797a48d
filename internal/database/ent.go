package database

import (
	"context"
	"database/sql"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// Ent returns an ent driver on the database's pool, for a service's generated ent client
// (reads, and writes that need no transaction of the caller's).
func (db *DB) Ent() dialect.Driver { return entsql.OpenDB(db.EntDialect(), db.DB) }

// ReadEnt returns an ent driver on the pool of Reads, for a service's queries outside transactions
// that only read.
func (db *DB) ReadEnt() dialect.Driver { return entsql.OpenDB(db.EntDialect(), db.Reads()) }

// EntTx returns an ent driver that runs on tx, a transaction InTx owns, so that the ent writes,
// the outbox row and the inbox record of one change commit or roll back together. ent opens a
// transaction of its own for some operations (UpdateOne updates and reads back); on this driver
// that nested transaction runs inside tx and its commit and rollback do nothing: InTx alone ends
// tx, once.
func (db *DB) EntTx(tx *sql.Tx) dialect.Driver {
	return txDriver{entsql.NewDriver(db.EntDialect(), entsql.Conn{ExecQuerier: tx})}
}

type txDriver struct{ *entsql.Driver }

func (d txDriver) Tx(context.Context) (dialect.Tx, error) { return dialect.NopTx(d.Driver), nil }
