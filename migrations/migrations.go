// Package migrations holds Touchline's PostgreSQL schema as numbered SQL
// files (NNN_name.up.sql), embedded into the binary and applied in order
// by `touchline migrate` (internal/store.Migrate). A file, once released,
// is never edited: a change is a new file.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.up.sql
var FS embed.FS
