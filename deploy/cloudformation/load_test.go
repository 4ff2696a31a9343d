package cloudformation

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	cfn "github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// templates are every template this directory ships; each test that walks
// all templates reads this list, and TestEveryTemplateIsListed keeps it whole.
var templates = []string{
	"firehose.yaml",
	"cloudwatch-subscription.yaml",
	"rest-api-stage-example.yaml",
}

// pseudoParameters are CloudFormation's pseudo parameters.
var pseudoParameters = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true,
	"AWS::Partition": true, "AWS::Region": true, "AWS::StackId": true,
	"AWS::StackName": true, "AWS::URLSuffix": true,
}

// getAttAttributes lists, per resource type the templates use, the Fn::GetAtt
// attributes CloudFormation documents for it (only those we may need).
var getAttAttributes = map[string][]string{
	"AWS::S3::Bucket":                      {"Arn", "DomainName", "RegionalDomainName"},
	"AWS::IAM::Role":                       {"Arn", "RoleId"},
	"AWS::KinesisFirehose::DeliveryStream": {"Arn"},
	"AWS::Logs::LogGroup":                  {"Arn"},
	"AWS::ApiGateway::RestApi":             {"RestApiId", "RootResourceId"},
	"AWS::ApiGatewayV2::Api":               {"ApiEndpoint", "ApiId"},
}

// Markers that the test's intrinsic handlers leave where CloudFormation would
// put a value only known at deploy time, so that wiring can be asserted.
func refMarker(name string) string    { return "{Ref:" + name + "}" }
func getAttMarker(name string) string { return "{GetAtt:" + name + "}" }

var subVariable = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// resolveRef gives a parameter's default (or override) when it has one, and a
// marker otherwise: for resources, pseudo parameters and required parameters.
func resolveRef(_ string, input, template any) any {
	name, _ := input.(string)
	if params, ok := template.(map[string]any)["Parameters"].(map[string]any); ok {
		if p, ok := params[name].(map[string]any); ok {
			if def, ok := p["Default"]; ok {
				return def
			}
		}
	}
	return refMarker(name)
}

func resolveGetAtt(_ string, input, _ any) any {
	switch v := input.(type) {
	case string:
		return getAttMarker(v)
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		return getAttMarker(strings.Join(parts, "."))
	}
	return nil
}

func resolveSub(_ string, input, template any) any {
	src, vars := "", map[string]any{}
	switch v := input.(type) {
	case string:
		src = v
	case []any:
		if len(v) != 2 {
			return nil
		}
		src, _ = v[0].(string)
		vars, _ = v[1].(map[string]any)
	}
	return subVariable.ReplaceAllStringFunc(src, func(m string) string {
		name := m[2 : len(m)-1]
		if val, ok := vars[name]; ok {
			return fmt.Sprint(val)
		}
		if strings.Contains(name, ".") {
			return getAttMarker(name)
		}
		return fmt.Sprint(resolveRef("Ref", name, template))
	})
}

// parse parses a template with goformation: every resource into its typed
// struct, which refuses unknown properties, with conditions evaluated for the
// given parameter values and deploy-time values left as markers.
func parse(t *testing.T, file string, params map[string]any) *cfn.Template {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": resolveRef, "Fn::GetAtt": resolveGetAtt, "Fn::Sub": resolveSub,
		},
		ParameterOverrides: params,
		EvaluateConditions: true,
	})
	if err != nil {
		t.Fatalf("goformation cannot parse %s: %v", file, err)
	}
	return tmpl
}

// raw is a template as written, short-form tags turned into their long form
// and nothing resolved.
func raw(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("%s is not valid YAML: %v", file, err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// section returns a top-level section of a raw template as a map.
func section(m map[string]any, name string) map[string]any {
	s, _ := m[name].(map[string]any)
	return s
}

// walk calls fn for every value in a raw template, depth first.
func walk(v any, fn func(any)) {
	fn(v)
	switch v := v.(type) {
	case map[string]any:
		for _, c := range v {
			walk(c, fn)
		}
	case []any:
		for _, c := range v {
			walk(c, fn)
		}
	}
}

// resourceOfType returns the one resource of a type in a parsed template.
func resourceOfType[T cfn.Resource](t *testing.T, tmpl *cfn.Template) (string, T) {
	t.Helper()
	var name string
	var found T
	n := 0
	for k, r := range tmpl.Resources {
		if v, ok := r.(T); ok {
			name, found = k, v
			n++
		}
	}
	if n != 1 {
		t.Fatalf("want exactly one %T, found %d", found, n)
	}
	return name, found
}

// statements returns an IAM policy document's statements as maps.
func statements(t *testing.T, doc any) []map[string]any {
	t.Helper()
	d, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("policy document is %T", doc)
	}
	if d["Version"] != "2012-10-17" {
		t.Errorf("policy Version = %v, want 2012-10-17", d["Version"])
	}
	var out []map[string]any
	switch s := d["Statement"].(type) {
	case []any:
		for _, e := range s {
			out = append(out, e.(map[string]any))
		}
	case map[string]any:
		out = append(out, s)
	}
	return out
}

// strs reads an IAM field that may be one string or a list of them.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func deref[T any](t *testing.T, p *T, what string) T {
	t.Helper()
	if p == nil {
		var zero T
		t.Fatalf("%s is not set", what)
		return zero
	}
	return *p
}

// marshal renders a raw template value as compact JSON with sorted keys, for
// substring assertions on IAM conditions and principals.
func marshal(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil && t != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	return string(b)
}
