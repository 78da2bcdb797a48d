package search

import (
	"embed"

	"github.com/mediamesh/mediamesh/internal/database"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations are the versioned migrations of the search database (the programs, episodes and
// categories the index is built from), written by tools/entmigrate from the ent schema (make
// migration) and applied by internal/database. The Postgres index has its own:
// index.PostgresMigrations.
var Migrations = database.Migrations{Component: "search", FS: migrationFiles}
