package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/hamba/avro/v2"
)

// checkAvro requires every released .avsc to exist in the current tree and the current schema to
// read data written with the released one.
func checkAvro(releasedDir, currentDir string) (result, error) {
	files, err := releasedFiles(releasedDir, "avro", func(rel string) bool { return strings.HasSuffix(rel, ".avsc") })
	if err != nil {
		return result{}, err
	}
	res := result{files: len(files)}
	for _, rel := range files {
		cur := filepath.Join(currentDir, filepath.FromSlash(rel))
		if !exists(cur) {
			res.violations = append(res.violations, violation(rel, "", "event schema removed (a released event must stay readable)"))
			continue
		}
		writer, err := parseAvro(filepath.Join(releasedDir, filepath.FromSlash(rel)))
		if err != nil {
			res.violations = append(res.violations, violation(rel, "", "released schema does not parse: %v", err))
			continue
		}
		reader, err := parseAvro(cur)
		if err != nil {
			res.violations = append(res.violations, violation(rel, "", "current schema does not parse: %v", err))
			continue
		}
		if err := avro.NewSchemaCompatibility().Compatible(reader, writer); err != nil {
			res.violations = append(res.violations, violation(rel, "", "not backward compatible: the current schema cannot read data written with the released one: %v", err))
		}
	}
	return res, nil
}

// parseAvro parses one schema file with its own name cache, so the released and current versions
// of a record do not see each other's named types.
func parseAvro(path string) (avro.Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return avro.ParseBytesWithCache(data, "", &avro.SchemaCache{})
}
