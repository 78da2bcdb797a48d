// Command compat checks that the current contracts are backward compatible with the released ones.
//
//	go run ./tools/compat -released specs/released -current specs   # check; exit 1 listing violations
//	go run ./tools/compat -release                                    # snapshot specs into specs/released
//
// OpenAPI (every openapi/*.yaml in the released tree, and openapi/vN/*.yaml of a later major version
// once released; refs, including common.yaml, are resolved):
// a released path or operation must stay; a released parameter must not be removed, renamed, made
// required or change type; no new required parameter; a request body must not gain a required
// property or change a property's type; a property of a released 2xx response must not be removed or
// change type; a documented 2xx status must stay; no enum value may be removed from a request or
// response schema.
//
// Avro (every avro/**/*.avsc in the released tree): the file must stay and the current schema must
// read data written with the released one (backward compatibility).
//
// Files new in the current tree are fine. When the released tree does not exist yet, the check
// passes with a notice, so that the first release can be recorded.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	released := flag.String("released", "specs/released", "the released contracts (openapi/, avro/)")
	current := flag.String("current", "specs", "the current contracts (openapi/, avro/)")
	release := flag.Bool("release", false, "copy the current openapi/*.yaml, openapi/vN/*.yaml and avro/** into -released instead of checking")
	flag.Parse()
	if *release {
		n, err := releaseSpecs(*current, *released)
		if err != nil {
			fmt.Fprintf(os.Stderr, "compat: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("compat: released %d files from %s into %s\n", n, *current, *released)
		return
	}
	if st, err := os.Stat(*released); err != nil || !st.IsDir() {
		// Nothing has been released yet (the first `make release-specs` runs this check first).
		fmt.Fprintf(os.Stderr, "compat: no released contracts at %s; nothing to compare (run `go run ./tools/compat -release` to record them)\n", *released)
		return
	}
	violations, summary, err := check(*released, *current)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat: %v\n", err)
		os.Exit(2)
	}
	if len(violations) > 0 {
		for _, v := range violations {
			fmt.Println(v)
		}
		fmt.Fprintf(os.Stderr, "compat: %d compatibility violation(s) against %s\n", len(violations), *released)
		os.Exit(1)
	}
	fmt.Printf("compat: %s compatible with %s\n", summary, *released)
}

// check compares the current tree with the released one and returns the violations, sorted.
func check(releasedDir, currentDir string) ([]string, string, error) {
	if st, err := os.Stat(releasedDir); err != nil || !st.IsDir() {
		return nil, "", fmt.Errorf("no released contracts at %s (run `go run ./tools/compat -release` to create them)", releasedDir)
	}
	var violations []string
	oa, err := checkOpenAPI(releasedDir, currentDir)
	if err != nil {
		return nil, "", err
	}
	violations = append(violations, oa.violations...)
	av, err := checkAvro(releasedDir, currentDir)
	if err != nil {
		return nil, "", err
	}
	violations = append(violations, av.violations...)
	sort.Strings(violations)
	summary := fmt.Sprintf("%d OpenAPI contract(s) and %d Avro schema(s)", oa.files, av.files)
	return violations, summary, nil
}

type result struct {
	files      int
	violations []string
}

// releasedFiles lists the files under released/sub whose names match, as slash paths relative to released.
func releasedFiles(releasedDir, sub string, match func(rel string) bool) ([]string, error) {
	root := filepath.Join(releasedDir, sub)
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(releasedDir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if match(rel) {
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// releaseSpecs replaces released/openapi and released/avro with copies of the current ones.
func releaseSpecs(currentDir, releasedDir string) (int, error) {
	yamls, err := filepath.Glob(filepath.Join(currentDir, "openapi", "*.yaml"))
	if err != nil {
		return 0, err
	}
	// Later major versions (openapi/vN/<service>.yaml) are released beside v1, from then on
	// checked against their release as v1 is.
	versioned, err := filepath.Glob(filepath.Join(currentDir, "openapi", "v[0-9]*", "*.yaml"))
	if err != nil {
		return 0, err
	}
	if len(yamls) == 0 {
		return 0, fmt.Errorf("no contracts in %s", filepath.Join(currentDir, "openapi"))
	}
	for _, sub := range []string{"openapi", "avro"} {
		if err := os.RemoveAll(filepath.Join(releasedDir, sub)); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, src := range yamls {
		if err := copyFile(src, filepath.Join(releasedDir, "openapi", filepath.Base(src))); err != nil {
			return n, err
		}
		n++
	}
	for _, src := range versioned {
		dir := filepath.Base(filepath.Dir(src))
		if !majorVersionDir.MatchString("openapi/" + dir + "/" + filepath.Base(src)) {
			continue
		}
		if err := copyFile(src, filepath.Join(releasedDir, "openapi", dir, filepath.Base(src))); err != nil {
			return n, err
		}
		n++
	}
	avroRoot := filepath.Join(currentDir, "avro")
	err = filepath.WalkDir(avroRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == avroRoot {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(currentDir, p)
		if err != nil {
			return err
		}
		n++
		return copyFile(p, filepath.Join(releasedDir, rel))
	})
	return n, err
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func violation(file, where, format string, args ...any) string {
	msg := fmt.Sprintf(format, args...)
	if where == "" {
		return file + ": " + msg
	}
	return file + ": " + where + ": " + msg
}
