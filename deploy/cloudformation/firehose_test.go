package cloudformation

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	cfn "github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/kinesisfirehose"
	"github.com/awslabs/goformation/v7/cloudformation/logs"
	"github.com/awslabs/goformation/v7/cloudformation/s3"
)

// streamTemplates are the templates that create a Gatescope delivery stream,
// with the name the stream gets when no suffix is given.
var streamTemplates = []struct {
	file     string
	baseName string
}{
	{"firehose.yaml", "amazon-apigateway-gatescope"},
	{"cloudwatch-subscription.yaml", "gatescope-cloudwatch"},
}

// firehoseStreamName is the documented constraint on a delivery stream name.
var firehoseStreamName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// The actions Firehose needs for an S3 backup and for error logging, as AWS's
// "Grant Firehose access to an HTTP endpoint destination" lists them.
var (
	firehoseS3Actions   = []string{"s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"}
	firehoseLogsActions = []string{"logs:PutLogEvents"}
)

func TestDeliveryStreamName(t *testing.T) {
	for _, tc := range streamTemplates {
		t.Run(tc.file, func(t *testing.T) {
			for suffix, want := range map[string]string{
				"":                      tc.baseName,
				"prod":                  tc.baseName + "-prod",
				strings.Repeat("x", 36): tc.baseName + "-" + strings.Repeat("x", 36),
			} {
				tmpl := parse(t, tc.file, map[string]any{"NameSuffix": suffix})
				_, ds := resourceOfType[*kinesisfirehose.DeliveryStream](t, tmpl)
				got := deref(t, ds.DeliveryStreamName, "DeliveryStreamName")
				if got != want {
					t.Errorf("suffix %q: stream name %q, want %q", suffix, got, want)
				}
				if !firehoseStreamName.MatchString(got) {
					t.Errorf("stream name %q is not a valid Firehose name", got)
				}
				_, lg := resourceOfType[*logs.LogGroup](t, tmpl)
				if g := deref(t, lg.LogGroupName, "LogGroupName"); g != "/aws/kinesisfirehose/"+want {
					t.Errorf("error log group %q, want /aws/kinesisfirehose/%s", g, want)
				}
			}
			// The suffix parameter must not admit a name Firehose refuses.
			p := raw(t, tc.file)["Parameters"].(map[string]any)["NameSuffix"].(map[string]any)
			pattern := regexp.MustCompile(p["AllowedPattern"].(string))
			if pattern.MatchString(strings.Repeat("x", 64-len(tc.baseName))) {
				t.Errorf("NameSuffix admits a suffix that makes the name longer than 64")
			}
			if pattern.MatchString("has space") || !pattern.MatchString("") {
				t.Errorf("NameSuffix pattern %q is wrong", pattern)
			}
		})
	}
}

func TestRESTStreamNamePrefix(t *testing.T) {
	for _, suffix := range []string{"", "a"} {
		_, ds := resourceOfType[*kinesisfirehose.DeliveryStream](t, parse(t, "firehose.yaml", map[string]any{"NameSuffix": suffix}))
		if n := deref(t, ds.DeliveryStreamName, "DeliveryStreamName"); !strings.HasPrefix(n, "amazon-apigateway-") {
			t.Errorf("REST API access logs only go to streams named amazon-apigateway-*, got %q", n)
		}
	}
}

func TestHTTPEndpointDestination(t *testing.T) {
	for _, tc := range streamTemplates {
		t.Run(tc.file, func(t *testing.T) {
			tmpl := parse(t, tc.file, nil)
			_, ds := resourceOfType[*kinesisfirehose.DeliveryStream](t, tmpl)
			if typ := deref(t, ds.DeliveryStreamType, "DeliveryStreamType"); typ != "DirectPut" {
				t.Errorf("DeliveryStreamType %q, want DirectPut", typ)
			}
			d := ds.HttpEndpointDestinationConfiguration
			if d == nil {
				t.Fatal("no HttpEndpointDestinationConfiguration")
			}
			if ds.ExtendedS3DestinationConfiguration != nil || ds.S3DestinationConfiguration != nil {
				t.Error("stream has a second destination")
			}
			ep := d.EndpointConfiguration
			if ep.Url != refMarker("EndpointUrl") {
				t.Errorf("Url = %q, want the EndpointUrl parameter", ep.Url)
			}
			if k := deref(t, ep.AccessKey, "AccessKey"); k != refMarker("ApplicationId") {
				t.Errorf("AccessKey = %q, want the ApplicationId parameter", k)
			}
			if e := deref(t, deref(t, d.RequestConfiguration, "RequestConfiguration").ContentEncoding, "ContentEncoding"); e != "GZIP" {
				t.Errorf("ContentEncoding = %q, want GZIP", e)
			}
			bh := deref(t, d.BufferingHints, "BufferingHints")
			if iv := deref(t, bh.IntervalInSeconds, "IntervalInSeconds"); iv != 60 {
				t.Errorf("default buffer interval %d s, want 60", iv)
			}
			if sz := deref(t, bh.SizeInMBs, "SizeInMBs"); sz < 1 || sz > 64 {
				t.Errorf("default buffer size %d MB outside 1-64", sz)
			}
			if rd := deref(t, deref(t, d.RetryOptions, "RetryOptions").DurationInSeconds, "DurationInSeconds"); rd < 0 || rd > 7200 {
				t.Errorf("default retry duration %d s outside 0-7200", rd)
			}
			if m := deref(t, d.S3BackupMode, "S3BackupMode"); m != "FailedDataOnly" {
				t.Errorf("S3BackupMode %q, want FailedDataOnly", m)
			}
			roleName, _ := resourceOfType[*iam.Role](t, withoutSubscriptionRole(tmpl))
			role := getAttMarker(roleName + ".Arn")
			if r := deref(t, d.RoleARN, "RoleARN"); r != role {
				t.Errorf("RoleARN %q, want %q", r, role)
			}
			bucketName, _ := resourceOfType[*s3.Bucket](t, tmpl)
			s3c := deref(t, d.S3Configuration, "S3Configuration")
			if s3c.BucketARN != getAttMarker(bucketName+".Arn") || s3c.RoleARN != role {
				t.Errorf("S3 backup goes to %q as %q, want the template's bucket as its Firehose role", s3c.BucketARN, s3c.RoleARN)
			}
			groupName, _ := resourceOfType[*logs.LogGroup](t, tmpl)
			for what, lo := range map[string]*kinesisfirehose.DeliveryStream_CloudWatchLoggingOptions{"destination": d.CloudWatchLoggingOptions, "backup": s3c.CloudWatchLoggingOptions} {
				if lo == nil || lo.Enabled == nil || !*lo.Enabled {
					t.Errorf("%s error logging is not enabled", what)
					continue
				}
				if g := deref(t, lo.LogGroupName, "LogGroupName"); g != refMarker(groupName) {
					t.Errorf("%s errors go to log group %q, want the template's", what, g)
				}
				stream := strings.TrimSuffix(strings.TrimPrefix(deref(t, lo.LogStreamName, "LogStreamName"), "{Ref:"), "}")
				if ls, ok := tmpl.Resources[stream].(*logs.LogStream); !ok || ls.LogGroupName != refMarker(groupName) {
					t.Errorf("%s errors go to log stream %q, not one the template creates in its group", what, stream)
				}
			}
		})
	}
}

// TestDeliveryParameters holds the parameters to the issue and to Firehose's
// ranges, and checks that each is what the stream reads.
func TestDeliveryParameters(t *testing.T) {
	for _, tc := range streamTemplates {
		t.Run(tc.file, func(t *testing.T) {
			tmpl := parse(t, tc.file, nil)
			want := map[string]struct {
				def, min, max float64
				path          []string
			}{
				"BufferIntervalSeconds": {60, 60, 900, []string{"BufferingHints", "IntervalInSeconds"}},
				"BufferSizeMBs":         {5, 1, 64, []string{"BufferingHints", "SizeInMBs"}},
				"RetryDurationSeconds":  {300, 0, 7200, []string{"RetryOptions", "DurationInSeconds"}},
			}
			r := raw(t, tc.file)
			dsName, _ := resourceOfType[*kinesisfirehose.DeliveryStream](t, tmpl)
			dest := section(section(section(r, "Resources")[dsName].(map[string]any), "Properties"), "HttpEndpointDestinationConfiguration")
			for name, w := range want {
				p, ok := tmpl.Parameters[name]
				if !ok {
					t.Errorf("no parameter %s", name)
					continue
				}
				lo, hi := deref(t, p.MinValue, name+" MinValue"), deref(t, p.MaxValue, name+" MaxValue")
				if p.Type != "Number" || p.Default != w.def || lo != w.min || hi != w.max {
					t.Errorf("%s: %s default %v range %v-%v, want Number default %v range %v-%v", name, p.Type, p.Default, lo, hi, w.def, w.min, w.max)
				}
				if got := section(dest, w.path[0])[w.path[1]]; !isRef(got, name) {
					t.Errorf("%s.%s = %v, want Ref %s", w.path[0], w.path[1], got, name)
				}
			}
			app := tmpl.Parameters["ApplicationId"]
			if app.NoEcho == nil || !*app.NoEcho || app.Default != nil {
				t.Errorf("ApplicationId must be NoEcho without a default")
			}
			if _, ok := tmpl.Parameters["NameSuffix"]; !ok {
				t.Errorf("no NameSuffix parameter")
			}
		})
	}
}

func isRef(v any, name string) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 1 && m["Ref"] == name
}

// TestEndpointURLPattern checks the URL parameter's pattern: Firehose only
// delivers over HTTPS to port 443, and Gatescope listens on /v1/firehose.
func TestEndpointURLPattern(t *testing.T) {
	for _, tc := range streamTemplates {
		p := raw(t, tc.file)["Parameters"].(map[string]any)["EndpointUrl"].(map[string]any)
		pattern := regexp.MustCompile(p["AllowedPattern"].(string))
		for url, ok := range map[string]bool{
			"https://gatescope.example.com/v1/firehose":           true,
			"https://gatescope.example.com:443/v1/firehose":       true,
			"https://example.com/analytics/gatescope/v1/firehose": true,
			"http://gatescope.example.com/v1/firehose":            false,
			"https://gatescope.example.com:8443/v1/firehose":      false,
			"https://gatescope.example.com":                       false,
			"https://gatescope.example.com/v1/events":             false,
			"https://gatescope.example.com/v1/firehose?k=v":       false,
			" https://gatescope.example.com/v1/firehose":          false,
		} {
			if pattern.MatchString(url) != ok {
				t.Errorf("%s: EndpointUrl pattern accepts %q: %v, want %v", tc.file, url, !ok, ok)
			}
		}
	}
}

func TestBackupBucket(t *testing.T) {
	for _, tc := range streamTemplates {
		t.Run(tc.file, func(t *testing.T) {
			tmpl := parse(t, tc.file, nil)
			name, b := resourceOfType[*s3.Bucket](t, tmpl)
			enc := deref(t, b.BucketEncryption, "BucketEncryption").ServerSideEncryptionConfiguration
			if len(enc) == 0 || enc[0].ServerSideEncryptionByDefault == nil || enc[0].ServerSideEncryptionByDefault.SSEAlgorithm == "" {
				t.Error("bucket has no default encryption")
			}
			pab := deref(t, b.PublicAccessBlockConfiguration, "PublicAccessBlockConfiguration")
			for _, v := range []*bool{pab.BlockPublicAcls, pab.BlockPublicPolicy, pab.IgnorePublicAcls, pab.RestrictPublicBuckets} {
				if v == nil || !*v {
					t.Error("bucket does not block every kind of public access")
				}
			}
			rules := deref(t, b.LifecycleConfiguration, "LifecycleConfiguration").Rules
			expires := false
			for _, r := range rules {
				if r.Status == "Enabled" && r.ExpirationInDays != nil && *r.ExpirationInDays > 0 {
					expires = true
				}
			}
			if !expires {
				t.Error("no enabled lifecycle rule expires the backup")
			}
			_, pol := resourceOfType[*s3.BucketPolicy](t, tmpl)
			if pol.Bucket != refMarker(name) {
				t.Errorf("bucket policy is on %q", pol.Bucket)
			}
			denied := false
			for _, s := range statements(t, pol.PolicyDocument) {
				if s["Effect"] == "Deny" && strings.Contains(marshal(t, s["Condition"]), `"aws:SecureTransport":"false"`) {
					denied = true
				}
			}
			if !denied {
				t.Error("bucket policy does not deny plain-HTTP access")
			}
		})
	}
}

// TestFirehoseRoleIsLeastPrivilege checks the Firehose role: only Firehose
// may assume it, for this account, and it may do exactly what an HTTP endpoint
// destination with an S3 backup and error logging needs, on this stack's
// bucket and log group only.
func TestFirehoseRoleIsLeastPrivilege(t *testing.T) {
	for _, tc := range streamTemplates {
		t.Run(tc.file, func(t *testing.T) {
			tmpl := parse(t, tc.file, nil)
			_, role := resourceOfType[*iam.Role](t, withoutSubscriptionRole(tmpl))
			bucket, _ := resourceOfType[*s3.Bucket](t, tmpl)
			group, _ := resourceOfType[*logs.LogGroup](t, tmpl)
			checkTrust(t, role, "firehose.amazonaws.com", `"sts:ExternalId":"{Ref:AWS::AccountId}"`)
			if len(role.ManagedPolicyArns) != 0 {
				t.Errorf("role has managed policies %v", role.ManagedPolicyArns)
			}
			allowed := map[string][]string{}
			for _, p := range role.Policies {
				for _, s := range statements(t, p.PolicyDocument) {
					if s["Effect"] != "Allow" {
						continue
					}
					for _, a := range strs(s["Action"]) {
						allowed[a] = append(allowed[a], strs(s["Resource"])...)
					}
				}
			}
			var actions []string
			for a := range allowed {
				actions = append(actions, a)
			}
			slices.Sort(actions)
			want := append(slices.Clone(firehoseS3Actions), firehoseLogsActions...)
			slices.Sort(want)
			if !slices.Equal(actions, want) {
				t.Errorf("role may do %v, want exactly %v", actions, want)
			}
			bucketARNs := []string{getAttMarker(bucket + ".Arn"), getAttMarker(bucket+".Arn") + "/*"}
			for _, a := range firehoseS3Actions {
				res := slices.Clone(allowed[a])
				slices.Sort(res)
				if !slices.Equal(res, bucketARNs) {
					t.Errorf("%s on %v, want only the backup bucket %v", a, res, bucketARNs)
				}
			}
			for _, res := range allowed["logs:PutLogEvents"] {
				if !strings.HasSuffix(res, ":log-group:"+refMarker(group)+":log-stream:*") {
					t.Errorf("logs:PutLogEvents on %q, want only the stream's error log group", res)
				}
			}
		})
	}
}

// withoutSubscriptionRole leaves out the CloudWatch Logs role, so that the
// Firehose role is the one IAM role left.
func withoutSubscriptionRole(tmpl *cfn.Template) *cfn.Template {
	out := *tmpl
	out.Resources = cfn.Resources{}
	for k, r := range tmpl.Resources {
		if role, ok := r.(*iam.Role); ok && strings.Contains(marshal(nil, role.AssumeRolePolicyDocument), "logs.amazonaws.com") {
			continue
		}
		out.Resources[k] = r
	}
	return &out
}

// checkTrust asserts that a role's trust policy lets exactly one service
// assume it, under a condition containing wantCondition.
func checkTrust(t *testing.T, role *iam.Role, service, wantCondition string) {
	t.Helper()
	st := statements(t, role.AssumeRolePolicyDocument)
	if len(st) != 1 {
		t.Fatalf("trust policy has %d statements, want 1", len(st))
	}
	s := st[0]
	if s["Effect"] != "Allow" || !slices.Equal(strs(s["Action"]), []string{"sts:AssumeRole"}) {
		t.Errorf("trust statement %v", s)
	}
	if got := marshal(t, s["Principal"]); got != `{"Service":"`+service+`"}` {
		t.Errorf("trusted principal %s, want only %s", got, service)
	}
	if c := marshal(t, s["Condition"]); !strings.Contains(c, wantCondition) {
		t.Errorf("trust condition %s lacks %s", c, wantCondition)
	}
}
