package metadata

import (
	"embed"

	"github.com/mediamesh/mediamesh/internal/database"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations are the versioned migrations of the metadata database, written by tools/entmigrate from
// the ent schema (make migration) and applied by internal/database.
var Migrations = database.Migrations{Component: "metadata", FS: migrationFiles}
