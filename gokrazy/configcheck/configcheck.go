// Package configcheck validates a gokrazy config.json against the schema of
// the gokrazy config package that the pinned gok tool is built with.
//
// gok decodes config.json with plain json.Unmarshal, so a misspelled key is
// silently ignored. Go's internal-package rule keeps us from importing
// github.com/gokrazy/internal/config, and a copy of its struct would drift
// from the real one unnoticed. Instead this package reads the config
// package's source from the module cache, at exactly the version pinned in
// tools/gok/go.sum, and derives the set of keys and their JSON kinds from the
// struct declarations with go/ast.
package configcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// ConfigModule is the module that holds gokrazy's config package.
const ConfigModule = "github.com/gokrazy/internal"

// rootType is the config.json top-level struct in package config.
const rootType = "Struct"

// kind is the JSON shape a Go type decodes from.
type kind int

const (
	kindString kind = iota
	kindBool
	kindNumber
	kindArray  // elem describes the elements
	kindObject // a struct: fields describes the keys
	kindMap    // string-keyed map: elem describes the values
)

func (k kind) String() string {
	return [...]string{"string", "bool", "number", "array", "object", "map"}[k]
}

// Type is one node of the schema.
type Type struct {
	Kind   kind
	Elem   *Type            // for arrays and maps
	Fields map[string]*Type // for objects, keyed by JSON name
	Name   string           // Go type name, for messages
}

// Keys returns the JSON keys of an object type, sorted.
func (t *Type) Keys() []string {
	keys := make([]string, 0, len(t.Fields))
	for k := range t.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// PinnedConfigDir returns the directory of the config package in the module
// cache, at the version of ConfigModule that the module in toolModDir (the
// pinned gok tool module) requires. It downloads the module if needed.
func PinnedConfigDir(toolModDir string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", ConfigModule)
	cmd.Dir = toolModDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s in %s: %w: %s", ConfigModule, toolModDir, err, stderr.String())
	}
	var mod struct{ Dir, Version, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", fmt.Errorf("decoding go mod download output %q: %w", out, err)
	}
	if mod.Error != "" || mod.Dir == "" {
		return "", fmt.Errorf("go mod download %s in %s: %q", ConfigModule, toolModDir, mod.Error)
	}
	return filepath.Join(mod.Dir, "config"), nil
}

// LoadSchema parses the Go files of gokrazy's config package in dir and
// returns the schema of config.json (the type Struct).
func LoadSchema(dir string) (*Type, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading config package %s: %w", dir, err)
	}
	decls := map[string]ast.Expr{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", name, err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				decls[ts.Name.Name] = ts.Type
			}
		}
	}
	root, ok := decls[rootType]
	if !ok {
		return nil, fmt.Errorf("no type %s in %s", rootType, dir)
	}
	b := schemaBuilder{decls: decls, done: map[string]*Type{}}
	return b.build(rootType, root)
}

type schemaBuilder struct {
	decls map[string]ast.Expr
	done  map[string]*Type
}

func (b *schemaBuilder) build(name string, e ast.Expr) (*Type, error) {
	switch e := e.(type) {
	case *ast.Ident:
		switch e.Name {
		case "string":
			return &Type{Kind: kindString, Name: "string"}, nil
		case "bool":
			return &Type{Kind: kindBool, Name: "bool"}, nil
		case "int", "int64", "uint64", "int32", "uint32", "float64":
			return &Type{Kind: kindNumber, Name: e.Name}, nil
		}
		if t, ok := b.done[e.Name]; ok {
			return t, nil
		}
		d, ok := b.decls[e.Name]
		if !ok {
			return nil, fmt.Errorf("type %s used by %s is not declared in the config package", e.Name, name)
		}
		return b.build(e.Name, d)
	case *ast.StarExpr:
		return b.build(name, e.X)
	case *ast.ArrayType:
		elem, err := b.build(name, e.Elt)
		if err != nil {
			return nil, err
		}
		return &Type{Kind: kindArray, Elem: elem, Name: "[]" + elem.Name}, nil
	case *ast.MapType:
		if k, ok := e.Key.(*ast.Ident); !ok || k.Name != "string" {
			return nil, fmt.Errorf("%s: map with a non-string key", name)
		}
		elem, err := b.build(name, e.Value)
		if err != nil {
			return nil, err
		}
		return &Type{Kind: kindMap, Elem: elem, Name: "map[string]" + elem.Name}, nil
	case *ast.SelectorExpr:
		// time.Time only appears in Meta, which is json:"-".
		return &Type{Kind: kindString, Name: fmt.Sprint(e.X) + "." + e.Sel.Name}, nil
	case *ast.StructType:
		t := &Type{Kind: kindObject, Fields: map[string]*Type{}, Name: name}
		b.done[name] = t
		for _, f := range e.Fields.List {
			jsonName := ""
			if f.Tag != nil {
				tag, err := strconv.Unquote(f.Tag.Value)
				if err != nil {
					return nil, fmt.Errorf("%s: bad tag %s: %w", name, f.Tag.Value, err)
				}
				jsonName, _, _ = strings.Cut(reflect.StructTag(tag).Get("json"), ",")
			}
			if jsonName == "-" {
				continue
			}
			ft, err := b.build(name, f.Type)
			if err != nil {
				return nil, err
			}
			for _, n := range f.Names {
				if !n.IsExported() {
					continue
				}
				key := n.Name
				if jsonName != "" {
					key = jsonName
				}
				t.Fields[key] = ft
			}
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s: unsupported type expression %T", name, e)
}

// Validate decodes the JSON document and reports every key that the schema
// does not know and every value of the wrong kind, each with its JSON path.
// json.Unmarshal matches keys case-insensitively, but a key that differs in
// case from the field is still reported: it works by accident only.
func Validate(schema *Type, doc []byte) []error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []error{fmt.Errorf("config.json is not valid JSON: %w", err)}
	}
	if dec.More() {
		return []error{fmt.Errorf("config.json has data after the top-level object")}
	}
	var errs []error
	check(schema, v, "$", &errs)
	return errs
}

func check(t *Type, v any, path string, errs *[]error) {
	if v == nil {
		return // null is accepted for every Go type
	}
	bad := func() {
		*errs = append(*errs, fmt.Errorf("%s: want a JSON %s (Go %s), got %T", path, t.Kind, t.Name, v))
	}
	switch t.Kind {
	case kindString:
		if _, ok := v.(string); !ok {
			bad()
		}
	case kindBool:
		if _, ok := v.(bool); !ok {
			bad()
		}
	case kindNumber:
		if _, ok := v.(json.Number); !ok {
			bad()
		}
	case kindArray:
		a, ok := v.([]any)
		if !ok {
			bad()
			return
		}
		for i, e := range a {
			check(t.Elem, e, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case kindMap:
		m, ok := v.(map[string]any)
		if !ok {
			bad()
			return
		}
		for _, k := range sortedKeys(m) {
			check(t.Elem, m[k], fmt.Sprintf("%s[%q]", path, k), errs)
		}
	case kindObject:
		m, ok := v.(map[string]any)
		if !ok {
			bad()
			return
		}
		for _, k := range sortedKeys(m) {
			ft, ok := t.Fields[k]
			if !ok {
				*errs = append(*errs, fmt.Errorf("%s: unknown key %q (gok ignores it silently); %s has %s",
					path, k, t.Name, strings.Join(t.Keys(), ", ")))
				continue
			}
			check(ft, m[k], path+"."+k, errs)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
