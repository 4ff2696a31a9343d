// Package cloudformation holds Gatescope's AWS CloudFormation templates:
// firehose.yaml (a Firehose delivery stream for REST API access logs),
// cloudwatch-subscription.yaml (the same stream fed by a CloudWatch Logs
// subscription, for HTTP and WebSocket APIs) and rest-api-stage-example.yaml
// (example REST and HTTP API stages that log to them). It has no code: its
// tests parse the templates and hold them, and docs/aws.md, to the access-log
// formats of internal/accesslog.
package cloudformation
