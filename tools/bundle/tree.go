package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"gopkg.in/yaml.v3"
)

// loadTree reads a YAML or JSON file into a generic tree of map[string]any, []any and scalars.
func loadTree(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v, err := nodeToAny(&root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: top level is not a mapping", path)
	}
	return m, nil
}

// nodeToAny converts a YAML node. Mapping keys are taken verbatim (so `200:` stays "200"), timestamps
// stay strings, aliases are expanded and merge keys (`<<`) are applied.
func nodeToAny(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeToAny(n.Content[0])
	case yaml.AliasNode:
		return nodeToAny(n.Alias)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeToAny(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			v, err := nodeToAny(vn)
			if err != nil {
				return nil, err
			}
			if k.Tag == "!!merge" {
				merge := []any{v}
				if s, ok := v.([]any); ok {
					merge = s
				}
				for _, mv := range merge {
					mm, ok := mv.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("line %d: merge key needs a mapping", k.Line)
					}
					for mk, mvv := range mm {
						if _, set := out[mk]; !set {
							out[mk] = mvv
						}
					}
				}
				continue
			}
			out[k.Value] = v
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp", "!!binary":
			return n.Value, nil
		case "!!null":
			return nil, nil
		case "!!int", "!!float", "!!bool":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			return v, nil
		default:
			return n.Value, nil
		}
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// marshalJSON encodes v with sorted keys, 2-space indentation, no HTML escaping and a trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// canonical returns a compact JSON encoding used to compare subtrees.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // trees come from YAML/JSON and always encode
	}
	return string(b)
}

// deepCopy copies a tree so rewriting one copy never changes another.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
