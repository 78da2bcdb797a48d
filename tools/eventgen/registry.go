package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"go/format"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"unicode"

	"github.com/hamba/avro/v2"
)

// Custom attributes that every event schema declares on its top-level record.
const (
	attrEventType = "mediamesh.event_type"
	attrTopic     = "mediamesh.topic"
)

// envelopeFields are carried by every event (DESIGN.md, section 3).
var envelopeFields = []string{"event_id", "occurred_at", "aggregate_id", "trace_id"}

var (
	eventTypeRe = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	topicRe     = regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$`)
	namespaceRe = regexp.MustCompile(`^mediamesh\.[a-z][a-z0-9_]*\.v[0-9]+$`)
)

type event struct {
	Name        string // record name, the Go struct avrogen generates
	FullName    string
	Type        string // event type, e.g. content.created
	File        string // base name of the schema file
	JSON        string // Go literal of the schema document
	Fingerprint uint64 // CRC-64-AVRO of the Parsing Canonical Form
	Past        []past // earlier versions of the schema (released, or written by builds since), when they differ from this one
}

// past is an earlier released version of an event schema that messages may still carry.
type past struct {
	JSON        string
	Fingerprint uint64
}

type enumConst struct {
	Ident    string
	Symbol   string
	FullName string
}

type registry struct {
	Package    string
	Source     string // schema folder, relative to the module root
	Topic      string
	TopicIdent string
	Events     []event
	Enums      []enumConst
}

// Generate reads every .avsc file in dir and returns the gofmt'ed registry source for package pkg.
// released, when not empty, is the folder of the released versions of the same schemas
// (specs/released/avro/<domain>); a released schema that differs from the current one is kept, so
// that messages written with it can still be read. A missing folder means nothing was released.
func Generate(dir, pkg string, released ...string) ([]byte, error) {
	if !token.IsIdentifier(pkg) {
		return nil, fmt.Errorf("invalid package name %q", pkg)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.avsc"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no .avsc files", dir)
	}
	slices.Sort(files)

	reg := registry{Package: pkg, Source: moduleRelative(dir)}
	named := map[string]namedType{} // full name -> first definition, across files
	var namespace string
	for _, file := range files {
		ev, err := readEvent(file, named)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		rec := named[ev.FullName].schema.(*avro.RecordSchema)
		topic, _ := rec.Prop(attrTopic).(string)
		switch {
		case reg.Topic == "":
			reg.Topic = topic
			namespace = rec.Namespace()
		case topic != reg.Topic:
			return nil, fmt.Errorf("%s: topic %q differs from %q declared by the other schemas of %s", file, topic, reg.Topic, dir)
		case rec.Namespace() != namespace:
			return nil, fmt.Errorf("%s: namespace %q differs from %q used by the other schemas of %s", file, rec.Namespace(), namespace, dir)
		}
		reg.Events = append(reg.Events, ev)
	}
	slices.SortFunc(reg.Events, func(a, b event) int { return strings.Compare(a.Type, b.Type) })
	for i := 1; i < len(reg.Events); i++ {
		if reg.Events[i].Type == reg.Events[i-1].Type {
			return nil, fmt.Errorf("event type %q declared by %s and %s", reg.Events[i].Type, reg.Events[i-1].File, reg.Events[i].File)
		}
	}
	reg.TopicIdent = "Topic" + pascal(reg.Topic)
	for _, rdir := range released {
		for i := range reg.Events {
			p, err := readPast(filepath.Join(rdir, reg.Events[i].File), reg.Events[i])
			if err != nil {
				return nil, err
			}
			if p != nil && !slices.ContainsFunc(reg.Events[i].Past, func(q past) bool { return q.Fingerprint == p.Fingerprint }) {
				reg.Events[i].Past = append(reg.Events[i].Past, *p)
			}
		}
	}

	for _, name := range sortedKeys(named) {
		enum, ok := named[name].schema.(*avro.EnumSchema)
		if !ok {
			continue
		}
		for _, sym := range enum.Symbols() {
			reg.Enums = append(reg.Enums, enumConst{Ident: pascal(enum.Name()) + pascal(sym), Symbol: sym, FullName: name})
		}
	}
	if err := checkIdents(reg); err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	if err := registryTemplate.Execute(&buf, reg); err != nil {
		return nil, err
	}
	code, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format generated code: %w\n%s", err, buf.Bytes())
	}
	return code, nil
}

type namedType struct {
	schema    avro.NamedSchema
	canonical string
	file      string
}

func readEvent(file string, named map[string]namedType) (event, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return event{}, err
	}
	// A fresh cache per file: every schema must stand alone, without names from other files.
	schema, err := avro.ParseBytesWithCache(raw, "", &avro.SchemaCache{})
	if err != nil {
		return event{}, err
	}
	rec, ok := schema.(*avro.RecordSchema)
	if !ok {
		return event{}, errors.New("top-level schema must be a record")
	}
	if !namespaceRe.MatchString(rec.Namespace()) {
		return event{}, fmt.Errorf("namespace %q does not match mediamesh.<domain>.v<N>", rec.Namespace())
	}
	if !token.IsIdentifier(rec.Name()) || !token.IsExported(rec.Name()) || pascal(rec.Name()) != rec.Name() {
		return event{}, fmt.Errorf("record name %q must be an exported Go identifier in PascalCase", rec.Name())
	}
	if rec.Doc() == "" {
		return event{}, errors.New("record has no doc")
	}
	eventType, _ := rec.Prop(attrEventType).(string)
	if !eventTypeRe.MatchString(eventType) {
		return event{}, fmt.Errorf("attribute %q must be a dotted lowercase event type, got %q", attrEventType, eventType)
	}
	if filepath.Base(file) != eventType+".avsc" {
		return event{}, fmt.Errorf("file must be named %s.avsc after its event type", eventType)
	}
	topic, _ := rec.Prop(attrTopic).(string)
	if !topicRe.MatchString(topic) {
		return event{}, fmt.Errorf("attribute %q must be a topic name, got %q", attrTopic, topic)
	}
	have := map[string]bool{}
	for _, f := range rec.Fields() {
		have[f.Name()] = true
	}
	for _, name := range envelopeFields {
		if !have[name] {
			return event{}, fmt.Errorf("missing envelope field %q", name)
		}
	}

	if err := collectNamed(schema, filepath.Base(file), named); err != nil {
		return event{}, err
	}

	fp, err := rec.FingerprintUsing(avro.CRC64Avro)
	if err != nil {
		return event{}, err
	}
	return event{
		Name:        rec.Name(),
		FullName:    rec.FullName(),
		Type:        eventType,
		File:        filepath.Base(file),
		JSON:        goString(strings.TrimSpace(string(raw))),
		Fingerprint: binary.BigEndian.Uint64(fp),
	}, nil
}

// readPast reads the released version of ev's schema from file: nil when there is none or it is
// the current one.
func readPast(file string, ev event) (*past, error) {
	raw, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	schema, err := avro.ParseBytesWithCache(raw, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	fp, err := schema.FingerprintUsing(avro.CRC64Avro)
	if err != nil {
		return nil, err
	}
	if f := binary.BigEndian.Uint64(fp); f != ev.Fingerprint {
		return &past{JSON: goString(strings.TrimSpace(string(raw))), Fingerprint: f}, nil
	}
	return nil, nil
}

// collectNamed records every named type defined in s and fails when a name is defined twice
// (in this file or an earlier one) with a different canonical form.
func collectNamed(s avro.Schema, file string, named map[string]namedType) error {
	switch s := s.(type) {
	case *avro.RefSchema:
		return nil // defined elsewhere in the same document
	case avro.NamedSchema:
		canonical := s.String()
		if prev, ok := named[s.FullName()]; ok {
			if prev.canonical != canonical {
				return fmt.Errorf("named type %s differs from its definition in %s", s.FullName(), prev.file)
			}
		} else {
			named[s.FullName()] = namedType{schema: s, canonical: canonical, file: file}
		}
		if rec, ok := s.(*avro.RecordSchema); ok {
			for _, f := range rec.Fields() {
				if f.Doc() == "" {
					return fmt.Errorf("field %s.%s has no doc", rec.FullName(), f.Name())
				}
				if err := collectNamed(f.Type(), file, named); err != nil {
					return err
				}
			}
		}
	case *avro.UnionSchema:
		for _, t := range s.Types() {
			if err := collectNamed(t, file, named); err != nil {
				return err
			}
		}
	case *avro.ArraySchema:
		return collectNamed(s.Items(), file, named)
	case *avro.MapSchema:
		return collectNamed(s.Values(), file, named)
	}
	return nil
}

func checkIdents(reg registry) error {
	seen := map[string]string{}
	add := func(ident, what string) error {
		if prev, ok := seen[ident]; ok {
			return fmt.Errorf("generated identifier %s is used by both %s and %s", ident, prev, what)
		}
		seen[ident] = what
		return nil
	}
	if err := add(reg.TopicIdent, "topic "+reg.Topic); err != nil {
		return err
	}
	for _, ev := range reg.Events {
		for _, ident := range []string{ev.Name, "Type" + ev.Name, "Fingerprint" + ev.Name, "SchemaJSON" + ev.Name} {
			if err := add(ident, "event "+ev.Type); err != nil {
				return err
			}
		}
	}
	for _, e := range reg.Enums {
		if err := add(e.Ident, "enum symbol "+e.FullName+"."+e.Symbol); err != nil {
			return err
		}
	}
	return nil
}

// pascal turns content.events, full_rebuild, ADMIN or ContentCreated into ContentEvents,
// FullRebuild, Admin and ContentCreated.
func pascal(s string) string {
	var b strings.Builder
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == '.' || r == '_' || r == '-' }) {
		if strings.ToUpper(part) == part {
			part = strings.ToLower(part)
		}
		r := []rune(part)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

// goString returns a Go literal for s: a raw string when possible.
func goString(s string) string {
	if !strings.Contains(s, "`") && !strings.Contains(s, "\r") {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// moduleRelative returns dir relative to the enclosing module root (slash separated), or dir
// itself when no go.mod is found.
func moduleRelative(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filepath.ToSlash(dir)
	}
	for root := abs; ; {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			if rel, err := filepath.Rel(root, abs); err == nil {
				return filepath.ToSlash(rel)
			}
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			break
		}
		root = parent
	}
	return filepath.ToSlash(dir)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var registryTemplate = template.Must(template.New("registry").Funcs(template.FuncMap{
	"hex": func(v uint64) string { return fmt.Sprintf("0x%016x", v) },
}).Parse(`// Code generated by tools/eventgen. DO NOT EDIT.
// Source: {{.Source}}

package {{.Package}}

import (
	"maps"
	"slices"

	"github.com/hamba/avro/v2"
)

// {{.TopicIdent}} is the Kafka topic that carries every event of this package. Messages are
// keyed by the event's aggregate_id, so the events of one aggregate stay in order.
const {{.TopicIdent}} = "{{.Topic}}"

// Event types, as sent in the event type message header.
const (
{{- range .Events}}
	// Type{{.Name}} is the event type of {{.Name}}.
	Type{{.Name}} = "{{.Type}}"
{{- end}}
)
{{- if .Enums}}

// Symbols of the Avro enums used by the events. The generated structs hold enum values as
// plain strings.
const (
{{- range .Enums}}
	// {{.Ident}} is the symbol {{.Symbol}} of enum {{.FullName}}.
	{{.Ident}} = "{{.Symbol}}"
{{- end}}
)
{{- end}}

// CRC-64-AVRO fingerprints of the Parsing Canonical Form of each event schema. The Avro
// single-object encoding header (C3 01) carries them in little-endian byte order.
const (
{{- range .Events}}
	// Fingerprint{{.Name}} is the schema fingerprint of {{.Name}}.
	Fingerprint{{.Name}} uint64 = {{hex .Fingerprint}}
{{- end}}
)

// Event schemas, as written in {{.Source}}.
const (
{{- range .Events}}
	// SchemaJSON{{.Name}} is the schema of {{.Name}} ({{.File}}).
	SchemaJSON{{.Name}} = {{.JSON}}
{{- end}}
)

var (
{{- range .Events}}
	schema{{.Name}} = mustParse(SchemaJSON{{.Name}})
{{- end}}
)

var eventTypes = []string{
{{- range .Events}}
	Type{{.Name}},
{{- end}}
}

var schemas = map[string]avro.Schema{
{{- range .Events}}
	Type{{.Name}}: schema{{.Name}},
{{- end}}
}

var fingerprints = map[uint64]string{
{{- range $e := .Events}}
	Fingerprint{{$e.Name}}: Type{{$e.Name}},
{{- range $e.Past}}
	{{hex .Fingerprint}}: Type{{$e.Name}}, // earlier version
{{- end}}
{{- end}}
}

// pastSchemas are the earlier versions of the event schemas that differ from the current ones (the
// released one, and those builds since wrote), by fingerprint: messages written with them (still in
// Kafka or an outbox) are read through them.
var pastSchemas = map[uint64]avro.Schema{
{{- range .Events}}
{{- range .Past}}
	{{hex .Fingerprint}}: mustParse({{.JSON}}),
{{- end}}
{{- end}}
}

// EventTypes returns the event types of this package, sorted.
func EventTypes() []string { return slices.Clone(eventTypes) }

// Schemas returns the parsed schema of every event type of this package, keyed by event type.
// The map is a copy; the schemas are parsed once and shared.
func Schemas() map[string]avro.Schema { return maps.Clone(schemas) }

// SchemaFor returns the parsed schema of eventType.
func SchemaFor(eventType string) (avro.Schema, bool) {
	s, ok := schemas[eventType]
	return s, ok
}

// EventTypeForFingerprint returns the event type whose schema has the CRC-64-AVRO fingerprint fp.
func EventTypeForFingerprint(fp uint64) (string, bool) {
	t, ok := fingerprints[fp]
	return t, ok
}

// New returns a pointer to a new zero event of eventType, ready to decode into.
func New(eventType string) (any, bool) {
	switch eventType {
{{- range .Events}}
	case Type{{.Name}}:
		return new({{.Name}}), true
{{- end}}
	}
	return nil, false
}
{{range .Events}}
// EventType returns {{printf "%q" .Type}}.
func (*{{.Name}}) EventType() string { return Type{{.Name}} }

// Topic returns {{printf "%q" $.Topic}}.
func (*{{.Name}}) Topic() string { return {{$.TopicIdent}} }

// AvroSchema returns the parsed schema of {{.Name}}.
func (*{{.Name}}) AvroSchema() avro.Schema { return schema{{.Name}} }

// SchemaFingerprint returns Fingerprint{{.Name}}.
func (*{{.Name}}) SchemaFingerprint() uint64 { return Fingerprint{{.Name}} }

// WriterSchema returns the schema a {{.Name}} message whose fingerprint is fp was written with:
// the current one or an earlier version; false for any other.
func (*{{.Name}}) WriterSchema(fp uint64) (avro.Schema, bool) {
	if fp == Fingerprint{{.Name}} {
		return schema{{.Name}}, true
	}
	{{- range .Past}}
	if fp == {{hex .Fingerprint}} {
		return pastSchemas[fp], true
	}
	{{- end}}
	return nil, false
}

// MessageKey returns the aggregate id, the Kafka message key of the event.
func (e *{{.Name}}) MessageKey() string { return e.AggregateID }
{{end}}
// mustParse parses an event schema on its own, outside avro's global schema cache.
func mustParse(s string) avro.Schema {
	schema, err := avro.ParseWithCache(s, "", &avro.SchemaCache{})
	if err != nil {
		panic("parse event schema: " + err.Error())
	}
	return schema
}
`))
