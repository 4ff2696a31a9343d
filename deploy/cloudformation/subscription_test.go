package cloudformation

import (
	"slices"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/kinesisfirehose"
	"github.com/awslabs/goformation/v7/cloudformation/logs"
)

const subscriptionFile = "cloudwatch-subscription.yaml"

// TestSubscriptionFilterWiring checks that the filter reads the API's log
// group given as a parameter, writes to this stack's delivery stream, and does
// so as a role that CloudWatch Logs alone may assume.
func TestSubscriptionFilterWiring(t *testing.T) {
	tmpl := parse(t, subscriptionFile, nil)
	_, f := resourceOfType[*logs.SubscriptionFilter](t, tmpl)
	stream, _ := resourceOfType[*kinesisfirehose.DeliveryStream](t, tmpl)

	if f.LogGroupName != refMarker("AccessLogGroupName") {
		t.Errorf("filter reads %q, want the AccessLogGroupName parameter", f.LogGroupName)
	}
	if p := tmpl.Parameters["AccessLogGroupName"]; p.Type != "String" || p.Default != nil {
		t.Errorf("AccessLogGroupName must be a required String parameter, is %+v", p)
	}
	if f.FilterPattern != "" {
		t.Errorf("default filter pattern %q, want empty (every line)", f.FilterPattern)
	}
	if f.DestinationArn != getAttMarker(stream+".Arn") {
		t.Errorf("filter destination %q, want the stack's delivery stream", f.DestinationArn)
	}
	roleArn := deref(t, f.RoleArn, "RoleArn")
	var role *iam.Role
	for name, r := range tmpl.Resources {
		if rr, ok := r.(*iam.Role); ok && getAttMarker(name+".Arn") == roleArn {
			role = rr
		}
	}
	if role == nil {
		t.Fatalf("filter role %q is not a role of the template", roleArn)
	}
	checkTrust(t, role, "logs.amazonaws.com", `"aws:SourceArn":"arn:{Ref:AWS::Partition}:logs:{Ref:AWS::Region}:{Ref:AWS::AccountId}:*"`)
	if len(role.ManagedPolicyArns) != 0 {
		t.Errorf("role has managed policies %v", role.ManagedPolicyArns)
	}
	var actions []string
	for _, p := range role.Policies {
		for _, s := range statements(t, p.PolicyDocument) {
			if s["Effect"] != "Allow" {
				continue
			}
			if res := strs(s["Resource"]); !slices.Equal(res, []string{getAttMarker(stream + ".Arn")}) {
				t.Errorf("subscription role acts on %v, want only the delivery stream", res)
			}
			actions = append(actions, strs(s["Action"])...)
		}
	}
	slices.Sort(actions)
	if !slices.Equal(actions, []string{"firehose:PutRecord", "firehose:PutRecordBatch"}) {
		t.Errorf("subscription role may do %v, want exactly firehose:PutRecord and firehose:PutRecordBatch", actions)
	}
}
