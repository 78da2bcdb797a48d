package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// A service of the module table needs no field in Config for its settings: what the table line
// declares is settable like the fields, with the same flags, variables, YAML keys, help and
// validation.
//   - Its endpoint: services.<name>.addr, url and database_url, when Services has no field of that
//     name (Services.unlisted).
//   - Its own settings: a line's `settings` (the defaults, a type of the service's package with its
//     own Validate) is the <name> section of the configuration (Config.sections); its constructor
//     reads it with sectionOf.
// The services that have fields keep them: the composition root's code reads them by name.

// hasYAMLField reports whether struct type t has a field of yaml key.
func hasYAMLField(t reflect.Type, key string) bool {
	for i := 0; i < t.NumField(); i++ {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k == key {
			return true
		}
	}
	return false
}

// unlistedServices are the table's services without a field in Services.
func unlistedServices() []string {
	var out []string
	for _, m := range modules {
		if !hasYAMLField(reflect.TypeOf(Services{}), m.name) {
			out = append(out, m.name)
		}
	}
	return out
}

// defaultSections returns the sections of the table's services that declare settings, each a
// fresh copy of the line's defaults.
func defaultSections() map[string]reflect.Value {
	out := map[string]reflect.Value{}
	for _, m := range modules {
		if m.settings != nil {
			p := reflect.New(reflect.TypeOf(m.settings))
			p.Elem().Set(reflect.ValueOf(m.settings))
			out[m.name] = p
		}
	}
	return out
}

// sectionOf returns service name's settings: its section of c, or its table line's defaults.
func sectionOf[T any](c *Config, name string) T {
	if v, ok := c.sections[name]; ok {
		return v.Elem().Interface().(T)
	}
	m, _ := moduleNamed(name)
	t, _ := m.settings.(T)
	return t
}

// ownTables gives c copies of its sections and unlisted endpoints, which a copied Config shares
// with the original until then (Load and YAML change them through pointers).
func (c *Config) ownTables() {
	sections := make(map[string]reflect.Value, len(c.sections))
	for name, v := range c.sections {
		p := reflect.New(v.Elem().Type())
		p.Elem().Set(v.Elem())
		sections[name] = p
	}
	c.sections = sections
	unlisted := make(map[string]*Endpoint, len(c.Services.unlisted))
	for name, ep := range c.Services.unlisted {
		cp := *ep
		unlisted[name] = &cp
	}
	c.Services.unlisted = unlisted
}

// tableSettings are the settings the table declares (unlisted endpoints, sections), for settings().
func tableSettings(c *Config, walk func(prefix string, v reflect.Value)) {
	for _, name := range unlistedServices() {
		walk("services."+name+".", reflect.ValueOf(c.Services.Endpoint(name)).Elem())
	}
	for name, v := range c.sections {
		walk(name+".", v.Elem())
	}
}

// decodeYAML decodes a configuration file onto c, strictly (an unknown key is an error). A file
// that sets a table-declared setting has those keys decoded into their section or endpoint and
// the rest decoded as Config; any other file is decoded as it always was.
func (c *Config) decodeYAML(data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return strictYAML(data, c)
	}
	root, taken := doc.Content[0], false
	unlisted := map[string]bool{}
	for _, name := range unlistedServices() {
		unlisted[name] = true
	}
	// take removes from mapping node n the keys that match, decoding each value into into(key).
	take := func(n *yaml.Node, prefix string, into func(key string) any) error {
		var kept []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			target := into(k.Value)
			if target == nil {
				kept = append(kept, k, v)
				continue
			}
			b, err := yaml.Marshal(v)
			if err == nil {
				err = strictYAML(b, target)
			}
			if err != nil {
				return fmt.Errorf("%s%s (line %d): %w", prefix, k.Value, k.Line, err)
			}
			taken = true
		}
		n.Content = kept
		return nil
	}
	err := take(root, "", func(key string) any {
		if v, ok := c.sections[key]; ok {
			return v.Interface()
		}
		return nil
	})
	for i := 0; err == nil && i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "services" && root.Content[i+1].Kind == yaml.MappingNode {
			err = take(root.Content[i+1], "services.", func(key string) any {
				if unlisted[key] {
					return c.Services.Endpoint(key)
				}
				return nil
			})
		}
	}
	if err != nil || !taken {
		if err != nil {
			return err
		}
		return strictYAML(data, c)
	}
	rest, err := yaml.Marshal(root)
	if err != nil {
		return err
	}
	return strictYAML(rest, c)
}

func strictYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// encodeYAML encodes c, with its table-declared settings beside the fields.
func (c *Config) encodeYAML() ([]byte, error) {
	names := unlistedServices()
	if len(c.sections) == 0 && len(names) == 0 {
		return yaml.Marshal(c)
	}
	var root yaml.Node
	if err := root.Encode(c); err != nil {
		return nil, err
	}
	add := func(n *yaml.Node, key string, v any) error {
		var val yaml.Node
		if err := val.Encode(v); err != nil {
			return err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &val)
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "services" {
			for _, name := range names {
				if err := add(root.Content[i+1], name, c.Services.Endpoint(name)); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, m := range modules {
		if v, ok := c.sections[m.name]; ok {
			if err := add(&root, m.name, v.Interface()); err != nil {
				return nil, err
			}
		}
	}
	return yaml.Marshal(&root)
}
