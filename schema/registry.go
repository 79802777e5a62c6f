package schema

//go:generate go run ./internal/gentables -out .

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// ErrUnknownType is returned by Lookup for a type the registry does not hold.
var ErrUnknownType = errors.New("unknown resource type")

// Registry is a set of schemas by type name: the embedded tables of the whole
// CloudFormation registry (Default), or a directory of schema files (LoadDir).
// A Registry is safe for concurrent use.
type Registry struct {
	names   []string // sorted
	entries []entry  // entries[i] is names[i]; unused when base is set

	// A registry made by WithRules looks types up in base and gives them
	// rules; ruled caches the copies that carry rules, by type name.
	base  *Registry
	rules Rules
	ruled *sync.Map
}

// entry is one type of a registry, parsed on first lookup.
type entry struct {
	once     sync.Once
	deflated string // the embedded facts document, compressed
	schema   *Schema
	err      error
}

func (e *entry) get(name string) (*Schema, error) {
	e.once.Do(func() {
		if e.schema != nil {
			return
		}
		zr := flate.NewReader(strings.NewReader(e.deflated))
		data, err := io.ReadAll(zr)
		if err == nil {
			e.schema, err = Parse(data)
		}
		if err != nil {
			e.err = fmt.Errorf("schema: embedded table of %s: %w", name, err)
		}
		e.deflated = ""
	})
	return e.schema, e.err
}

// tableEntry locates one type's DEFLATE stream in tableData.
type tableEntry struct {
	name      string
	off, size uint32
}

// defaultRegistry is built on the first call of Default.
var defaultRegistry = sync.OnceValue(embeddedRegistry)

// embeddedRegistry returns a registry over the embedded tables; nothing is
// decompressed until a lookup.
func embeddedRegistry() *Registry {
	r := &Registry{names: make([]string, len(tableIndex)), entries: make([]entry, len(tableIndex))}
	for i, t := range tableIndex {
		r.names[i] = t.name
		r.entries[i].deflated = tableData[t.off : t.off+t.size]
	}
	return r
}

// Default returns the registry embedded in the binary: every type of the
// CloudFormation registry the tables were generated from (see
// internal/gentables). Each type is decompressed and parsed on its first
// lookup and cached.
func Default() *Registry { return defaultRegistry() }

// LoadDir reads and parses every *.json registry schema in dir, such as the
// output of `aws cloudformation describe-type`. It fails on the first
// document that does not parse, naming the file, and when two documents
// define the same type.
func LoadDir(dir string) (*Registry, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("schema: load %s: %w", dir, err)
	}
	if len(files) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("schema: load %s: %w", dir, err)
		}
	}
	schemas := make([]*Schema, 0, len(files))
	from := make(map[string]string, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("schema: load: %w", err)
		}
		s, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("schema: load %s: %w", f, err)
		}
		if prev, dup := from[s.TypeName]; dup {
			return nil, fmt.Errorf("schema: load %s: %s is also defined by %s", f, s.TypeName, prev)
		}
		from[s.TypeName] = f
		schemas = append(schemas, s)
	}
	slices.SortFunc(schemas, func(a, b *Schema) int { return strings.Compare(a.TypeName, b.TypeName) })
	r := &Registry{names: make([]string, len(schemas)), entries: make([]entry, len(schemas))}
	for i, s := range schemas {
		r.names[i] = s.TypeName
		r.entries[i].schema = s
	}
	return r, nil
}

// Lookup returns the schema of typeName, or an error wrapping ErrUnknownType.
func (r *Registry) Lookup(typeName string) (*Schema, error) {
	if r.base != nil {
		s, err := r.base.Lookup(typeName)
		if err != nil {
			return nil, err
		}
		return r.withRules(s), nil
	}
	i, ok := slices.BinarySearch(r.names, typeName)
	if !ok {
		if near := Closest(r.names, typeName, 3); len(near) > 0 {
			return nil, fmt.Errorf("schema: %w: %q (did you mean %s?)", ErrUnknownType, typeName, quoteList(near))
		}
		return nil, fmt.Errorf("schema: %w: %q", ErrUnknownType, typeName)
	}
	return r.entries[i].get(typeName)
}

// TypeNames lists the registry's type names, sorted.
func (r *Registry) TypeNames() []string { return slices.Clone(r.names) }

// Lookup is Default().Lookup.
func Lookup(typeName string) (*Schema, error) { return Default().Lookup(typeName) }
