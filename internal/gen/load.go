package gen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/athanor-dev/athanor/schema"
)

// ParseDocument parses one registry schema document. It accepts a plain
// registry schema (an object with "typeName") and the output of
// `aws cloudformation describe-type`, whose "Schema" member holds the
// registry schema as a JSON string.
func ParseDocument(data []byte) (*schema.Schema, error) {
	// encoding/json matches member names case-insensitively, and
	// describe-type output has "TypeName" where a schema has "typeName":
	// look at the exact names.
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("decode schema document: %w", err)
	}
	if _, plain := probe["typeName"]; !plain {
		if raw, ok := probe["Schema"]; ok {
			var inner string
			if err := json.Unmarshal(raw, &inner); err != nil {
				return nil, fmt.Errorf("describe-type output: Schema must be a JSON string: %w", err)
			}
			data = []byte(inner)
		}
	}
	s, err := schema.Parse(data)
	if err != nil {
		return nil, err
	}
	if !validTypeName(s.TypeName) {
		return nil, fmt.Errorf("schema type name %q is not of the form Namespace::Service::Resource", s.TypeName)
	}
	return s, nil
}

// validTypeName reports whether name has the registry's three-part form
// with parts that yield Go identifiers.
func validTypeName(name string) bool {
	parts := strings.Split(name, "::")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || exportedName(p) == "Value" {
			return false
		}
	}
	return true
}

// LoadDir parses every *.json file in dir as a registry schema document
// (see ParseDocument) and returns the schemas sorted by type name. Two
// documents of the same type are an error.
func LoadDir(dir string) ([]*schema.Schema, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read schema directory: %w", err)
	}
	var out []*schema.Schema
	seen := map[string]string{}
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s, err := ParseDocument(bytes.TrimSpace(data))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Name(), err))
			continue
		}
		if prev, dup := seen[s.TypeName]; dup {
			errs = append(errs, fmt.Errorf("%s: type %s is also defined by %s", e.Name(), s.TypeName, prev))
			continue
		}
		seen[s.TypeName] = e.Name()
		out = append(out, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no registry schemas (*.json) in %s", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TypeName < out[j].TypeName })
	return out, nil
}
