// Package identify decides who made an API call and which route it hit, from
// the identity variables API Gateway logs (PRODUCT.md sections 6 and 7).
package identify

import "github.com/gatescope/gatescope/internal/event"

// User returns the user an event belongs to: the first non-empty of the
// identity fields, in the contract's priority. The `user` field comes first
// on purpose: an operator who logs another variable as `user` (say
// $context.identity.sourceIp) overrides everything else.
func User(ev *event.Event, user string) string {
	for _, id := range [...]string{user, ev.APIKeyID, ev.PrincipalID, ev.CognitoIdentityID, ev.Caller, ev.UserARN} {
		if id != "" {
			return id
		}
	}
	return ""
}
