package cloudformation

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEveryTemplateIsListed(t *testing.T) {
	var found []string
	for _, pattern := range []string{"*.yaml", "*.yml", "*.json"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, m...)
	}
	slices.Sort(found)
	want := slices.Clone(templates)
	slices.Sort(want)
	if !slices.Equal(found, want) {
		t.Fatalf("templates on disk %v, tested %v", found, want)
	}
}

// TestTemplatesParse parses every template with goformation, under both
// values of the name-suffix condition where there is one, and checks that no
// resource was lost on the way (goformation drops nothing silently, but an
// unknown type or property fails the parse).
func TestTemplatesParse(t *testing.T) {
	for _, file := range templates {
		t.Run(file, func(t *testing.T) {
			// CloudFormation takes at most 51,200 bytes in a direct upload.
			if fi, err := os.Stat(file); err != nil || fi.Size() > 51200 {
				t.Errorf("%s is too large to upload directly (%v)", file, err)
			}
			r := raw(t, file)
			if r["AWSTemplateFormatVersion"] != "2010-09-09" {
				t.Errorf("AWSTemplateFormatVersion = %v", r["AWSTemplateFormatVersion"])
			}
			if d, _ := r["Description"].(string); d == "" || len(d) > 1024 {
				t.Errorf("Description must be 1-1024 characters, is %d", len(d))
			}
			for _, params := range []map[string]any{nil, {"NameSuffix": "x"}} {
				tmpl := parse(t, file, params)
				if len(tmpl.Resources) != len(section(r, "Resources")) {
					t.Errorf("parsed %d resources, template has %d", len(tmpl.Resources), len(section(r, "Resources")))
				}
				for name, res := range tmpl.Resources {
					if res == nil {
						t.Errorf("resource %s did not parse", name)
					}
				}
			}
		})
	}
}

// TestIntrinsicsResolve checks what goformation cannot: that every Ref,
// Fn::GetAtt, Fn::Sub variable, Fn::If condition and DependsOn names
// something the template defines, and that every parameter is used.
func TestIntrinsicsResolve(t *testing.T) {
	for _, file := range templates {
		t.Run(file, func(t *testing.T) {
			r := raw(t, file)
			params, resources, conditions := section(r, "Parameters"), section(r, "Resources"), section(r, "Conditions")
			used := map[string]bool{}
			ref := func(name, where string) {
				used[name] = true
				if _, ok := params[name]; ok {
					return
				}
				if _, ok := resources[name]; ok || pseudoParameters[name] {
					return
				}
				t.Errorf("%s refers to %q, which is neither a parameter, a resource nor a pseudo parameter", where, name)
			}
			getAtt := func(res, attr string) {
				def, ok := resources[res].(map[string]any)
				if !ok {
					t.Errorf("Fn::GetAtt of unknown resource %q", res)
					return
				}
				typ, _ := def["Type"].(string)
				if !slices.Contains(getAttAttributes[typ], attr) {
					t.Errorf("Fn::GetAtt %s.%s: %s has no such attribute", res, attr, typ)
				}
			}
			walk(r, func(v any) {
				m, ok := v.(map[string]any)
				if !ok || len(m) != 1 {
					return
				}
				for fn, arg := range m {
					switch fn {
					case "Ref":
						s, _ := arg.(string)
						ref(s, "Ref")
					case "Fn::GetAtt":
						parts := strs(arg)
						if len(parts) == 1 {
							parts = strings.SplitN(parts[0], ".", 2)
						}
						if len(parts) != 2 {
							t.Errorf("malformed Fn::GetAtt %v", arg)
							return
						}
						getAtt(parts[0], parts[1])
					case "Fn::Sub":
						src, vars := "", map[string]any{}
						switch a := arg.(type) {
						case string:
							src = a
						case []any:
							src, _ = a[0].(string)
							vars, _ = a[1].(map[string]any)
						}
						for _, match := range subVariable.FindAllStringSubmatch(src, -1) {
							name := match[1]
							if _, ok := vars[name]; ok {
								continue
							}
							if res, attr, ok := strings.Cut(name, "."); ok {
								getAtt(res, attr)
							} else {
								ref(name, fmt.Sprintf("Fn::Sub %q", src))
							}
						}
					case "Fn::If":
						a, _ := arg.([]any)
						if len(a) != 3 {
							t.Errorf("Fn::If takes 3 arguments, has %v", arg)
							return
						}
						if _, ok := conditions[fmt.Sprint(a[0])]; !ok {
							t.Errorf("Fn::If on unknown condition %v", a[0])
						}
					case "Fn::Not", "Fn::Equals", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::And", "Fn::Or":
					default:
						if strings.HasPrefix(fn, "Fn::") {
							t.Errorf("unexpected intrinsic %s", fn)
						}
					}
				}
			})
			for name, def := range resources {
				for _, dep := range strs(def.(map[string]any)["DependsOn"]) {
					if _, ok := resources[dep]; !ok {
						t.Errorf("%s DependsOn unknown resource %q", name, dep)
					}
				}
			}
			for name := range params {
				if !used[name] {
					t.Errorf("parameter %s is never used", name)
				}
			}
		})
	}
}
