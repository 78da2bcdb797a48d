package media

import (
	"embed"

	"github.com/mediamesh/mediamesh/internal/database"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations are the versioned migrations of the media database, written by tools/entmigrate from
// the ent schema (make migration) and applied by internal/database.
var Migrations = database.Migrations{Component: "media", FS: migrationFiles}
