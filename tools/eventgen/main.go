// Command eventgen writes the event registry of one event domain: for every Avro schema in a
// specs/avro/<domain> folder it emits the event type, topic, schema JSON, parsed schema and
// CRC-64-AVRO fingerprint, next to the structs that avrogen generates from the same schemas.
//
// With -topics it writes instead the topic constants of every folder under specs/avro (see Topics):
// internal/eventbus's topics.gen.go, so that the topic names come from the specs.
//
// Usage (from a go:generate line in gen/events/<domain>events):
//
//	go run ../../../tools/eventgen -pkg contentevents -o registry.gen.go -released ../../../specs/released/avro/content ../../../specs/avro/content
//
// With -released (repeatable), an earlier version of a schema that differs from the current one is
// kept in the registry, so that messages written before the change can still be read (each event's
// WriterSchema): the released version, and versions that builds between releases wrote.
//
// Every schema must be a record that declares, as custom attributes,
//
//	"mediamesh.event_type": "content.created"   (and the file is named content.created.avsc)
//	"mediamesh.topic": "content.events"          (the same for every schema of the folder)
//
// and carries the envelope fields event_id, occurred_at, aggregate_id and trace_id. Named types
// defined in several files of a folder (for example a shared snapshot record) must be identical.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("eventgen", flag.ContinueOnError)
	flags.SetOutput(stderr)
	pkg := flags.String("pkg", "", "package name of the generated file (required)")
	topics := flags.Bool("topics", false, "write the topic constants of every schema folder under SCHEMA_DIR (specs/avro) instead of one folder's registry")
	out := flags.String("o", "registry.gen.go", "output file")
	var past []string
	flags.Func("released", "folder of earlier versions of the schemas that messages may carry (specs/released/avro/<domain>, specs/unreleased/avro/<domain>/<date>); repeatable, optional", func(dir string) error {
		past = append(past, dir)
		return nil
	})
	flags.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "Usage: eventgen -pkg NAME [-o FILE] [-released DIR]... SCHEMA_DIR\n       eventgen -topics -pkg NAME [-o FILE] SPECS_AVRO_DIR")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *pkg == "" || flags.NArg() != 1 {
		flags.Usage()
		return 2
	}

	var code []byte
	var err error
	if *topics {
		code, err = Topics(flags.Arg(0), *pkg)
	} else {
		code, err = Generate(flags.Arg(0), *pkg, past...)
	}
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "eventgen:", err)
		return 1
	}
	// Leave an up-to-date file untouched so that its modification time stays put.
	if old, err := os.ReadFile(*out); err == nil && bytes.Equal(old, code) {
		return 0
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		_, _ = fmt.Fprintln(stderr, "eventgen:", err)
		return 1
	}
	return 0
}
