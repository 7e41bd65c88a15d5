package configcheck

import (
	"path/filepath"
	"strings"
	"testing"
)

func pinnedSchema(t *testing.T) *Type {
	t.Helper()
	dir, err := PinnedConfigDir(filepath.Join("..", "..", "tools", "gok"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSchema(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchemaHasTheKeysGokDocuments(t *testing.T) {
	s := pinnedSchema(t)
	for _, k := range []string{"Hostname", "Update", "Packages", "PackageConfig", "GokrazyPackages",
		"KernelExtraArgs", "BootloaderExtraLines", "SerialConsole", "InternalCompatibilityFlags"} {
		if _, ok := s.Fields[k]; !ok {
			t.Errorf("schema lacks top-level key %s; has %v", k, s.Keys())
		}
	}
	if _, ok := s.Fields["Meta"]; ok {
		t.Error(`Meta is json:"-" and must not be a key`)
	}
	pc := s.Fields["PackageConfig"]
	if pc == nil || pc.Kind != kindMap || pc.Elem.Fields["CommandLineFlags"] == nil || pc.Elem.Fields["ExtraFilePaths"] == nil {
		t.Errorf("PackageConfig is not a map of objects with CommandLineFlags and ExtraFilePaths: %+v", pc)
	}
	if u := s.Fields["Update"]; u == nil || u.Fields["HTTPPort"] == nil || u.Fields["HTTPPort"].Kind != kindString {
		t.Errorf("Update.HTTPPort is not a string key: %+v", u)
	}
}

func TestValidateReportsMistakes(t *testing.T) {
	s := pinnedSchema(t)
	cases := []struct {
		doc  string
		want string // substring of the single expected error; "" = valid
	}{
		{`{"Hostname":"x","Packages":[],"Update":{"HTTPPort":"8880"}}`, ""},
		{`{"Hostname":"x","Packages":[],"Update":{"HttpPort":"8880"}}`, `$.Update: unknown key "HttpPort"`},
		{`{"Hostname":"x","Packages":[],"BootloaderExtraLine":["dtparam=spi=on"]}`, `$: unknown key "BootloaderExtraLine"`},
		{`{"Hostname":"x","Packages":[],"Update":{"HTTPPort":8880}}`, `$.Update.HTTPPort: want a JSON string`},
		{`{"Hostname":"x","Packages":[],"PackageConfig":{"a/b":{"CommandLineFlag":["-x"]}}}`, `$.PackageConfig["a/b"]: unknown key "CommandLineFlag"`},
		{`{"Hostname":"x","Packages":[],"PackageConfig":{"a/b":{"ExtraFilePaths":{"/x":1}}}}`, `$.PackageConfig["a/b"].ExtraFilePaths["/x"]: want a JSON string`},
		{`{"Hostname":"x","Packages":"a/b"}`, `$.Packages: want a JSON array`},
		{`{"Hostname":"x"`, `not valid JSON`},
	}
	for _, c := range cases {
		errs := Validate(s, []byte(c.doc))
		switch {
		case c.want == "" && len(errs) != 0:
			t.Errorf("%s: unexpected errors %v", c.doc, errs)
		case c.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want)):
			t.Errorf("%s: got %v, want one error containing %q", c.doc, errs, c.want)
		}
	}
}
