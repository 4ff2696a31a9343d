package cloudformation

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/apigateway"
	"github.com/awslabs/goformation/v7/cloudformation/apigatewayv2"
	"github.com/awslabs/goformation/v7/cloudformation/logs"

	"github.com/gatescope/gatescope/internal/accesslog"
)

const exampleFile = "rest-api-stage-example.yaml"

// formats maps each recommended format, as `gatescope aws log-format` prints
// it, to its API kind.
func formats(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, api := range accesslog.APIs {
		f, err := accesslog.FormatFor(string(api))
		if err != nil {
			t.Fatal(err)
		}
		fields, err := accesslog.Recommended(api)
		if err != nil || accesslog.Render(fields) != f {
			t.Fatalf("FormatFor(%s) is not Render(Recommended(%s))", api, api)
		}
		out[f] = string(api)
	}
	return out
}

func format(t *testing.T, api accesslog.API) string {
	t.Helper()
	f, err := accesslog.FormatFor(string(api))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestTemplateFormatsEqualLogFormat(t *testing.T) {
	outputs := []struct {
		file, output string
		api          accesslog.API
	}{
		{"firehose.yaml", "RestApiLogFormat", accesslog.REST},
		{subscriptionFile, "HttpApiLogFormat", accesslog.HTTP},
		{subscriptionFile, "WebSocketApiLogFormat", accesslog.WebSocket},
	}
	for _, o := range outputs {
		out, ok := parse(t, o.file, nil).Outputs[o.output]
		if !ok {
			t.Errorf("%s has no output %s", o.file, o.output)
			continue
		}
		if out.Value != format(t, o.api) {
			t.Errorf("%s output %s is not `gatescope aws log-format --api %s`:\n got %v\nwant %s", o.file, o.output, o.api, out.Value, format(t, o.api))
		}
	}

	tmpl := parse(t, exampleFile, nil)
	_, rest := resourceOfType[*apigateway.Stage](t, tmpl)
	rs := deref(t, rest.AccessLogSetting, "AccessLogSetting")
	if got := deref(t, rs.Format, "REST Format"); got != format(t, accesslog.REST) {
		t.Errorf("REST stage format is not `gatescope aws log-format --api rest`:\n got %s\nwant %s", got, format(t, accesslog.REST))
	}
	if d := deref(t, rs.DestinationArn, "REST DestinationArn"); d != refMarker("RestDeliveryStreamArn") {
		t.Errorf("REST stage logs to %q, want the RestDeliveryStreamArn parameter", d)
	}

	_, httpStage := resourceOfType[*apigatewayv2.Stage](t, tmpl)
	hs := deref(t, httpStage.AccessLogSettings, "AccessLogSettings")
	if got := deref(t, hs.Format, "HTTP Format"); got != format(t, accesslog.HTTP) {
		t.Errorf("HTTP stage format is not `gatescope aws log-format --api http`:\n got %s\nwant %s", got, format(t, accesslog.HTTP))
	}
	group, _ := resourceOfType[*logs.LogGroup](t, tmpl)
	wantDest := "arn:{Ref:AWS::Partition}:logs:{Ref:AWS::Region}:{Ref:AWS::AccountId}:log-group:" + refMarker(group)
	if d := deref(t, hs.DestinationArn, "HTTP DestinationArn"); d != wantDest {
		t.Errorf("HTTP stage logs to %q, want the template's log group %q", d, wantDest)
	}
	if httpStage.StageName != "$default" || httpStage.AutoDeploy == nil || !*httpStage.AutoDeploy {
		t.Errorf("HTTP stage should be the auto-deployed $default stage")
	}
}

// TestNoOtherFormatInTemplates finds every string in every template that
// holds a $context variable: each must be one of the recommended formats,
// whole, so no stale or hand-edited copy can hide anywhere.
func TestNoOtherFormatInTemplates(t *testing.T) {
	known := formats(t)
	for _, file := range templates {
		walk(raw(t, file), func(v any) {
			s, ok := v.(string)
			if ok && strings.Contains(s, "$context.") {
				if _, ok := known[s]; !ok {
					t.Errorf("%s holds a format that is not a recommended one: %s", file, s)
				}
			}
		})
	}
}

func TestExampleRESTDestinationPattern(t *testing.T) {
	p := raw(t, exampleFile)["Parameters"].(map[string]any)["RestDeliveryStreamArn"].(map[string]any)
	pattern := regexp.MustCompile(p["AllowedPattern"].(string))
	for arn, ok := range map[string]bool{
		"arn:aws:firehose:eu-west-1:123456789012:deliverystream/amazon-apigateway-gatescope":          true,
		"arn:aws-us-gov:firehose:us-gov-west-1:123456789012:deliverystream/amazon-apigateway-gs-prod": true,
		"arn:aws:firehose:eu-west-1:123456789012:deliverystream/gatescope-cloudwatch":                 false,
		"arn:aws:logs:eu-west-1:123456789012:log-group:amazon-apigateway-x":                           false,
	} {
		if pattern.MatchString(arn) != ok {
			t.Errorf("RestDeliveryStreamArn pattern on %q: %v, want %v", arn, !ok, ok)
		}
	}
}

// TestDocsCarryTheFormats checks that docs/aws.md shows every recommended
// format exactly, on a line of its own, and that no line that starts like a
// format shows any other (inline mentions of one variable are fine).
func TestDocsCarryTheFormats(t *testing.T) {
	data, err := os.ReadFile("../../docs/aws.md")
	if err != nil {
		t.Fatal(err)
	}
	known := formats(t)
	shown := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "{") || !strings.Contains(trimmed, "$context.") {
			continue
		}
		if _, ok := known[trimmed]; !ok {
			t.Errorf("docs/aws.md:%d shows a format that is not a recommended one: %s", i+1, line)
		}
		shown[trimmed] = true
	}
	for f, api := range known {
		if !shown[f] {
			t.Errorf("docs/aws.md lacks the %s format on a line of its own:\n%s", api, f)
		}
	}
}
