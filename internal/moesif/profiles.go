package moesif

import (
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/event"
)

// Metadata keys for the profile fields that have no column of their own.
// They merge with the caller's metadata, key by key, like it.
const (
	keyCampaign  = "sdk_campaign"
	keyIP        = "sdk_ip_address"
	keyUserAgent = "sdk_user_agent"
	// keySessionToken (masked) is shared with events.
)

// decodeUser maps one wire user onto u. A user without modified_time was
// modified when it was received.
func decodeUser(raw []byte, appID string, received time.Time, u *event.UserUpdate) *recordError {
	o, rerr := parseObject(raw, "user")
	if rerr != nil {
		return rerr
	}
	*u = event.UserUpdate{AppID: appID}
	if u.UserID, rerr = o.id("user_id", "userId"); rerr != nil {
		return rerr
	}
	if u.UserID == "" {
		return reject("missing_user_id", "user has no user_id")
	}
	if u.CompanyID, rerr = o.id("company_id", "companyId"); rerr != nil {
		return rerr
	}
	modified, rerr := o.time("modified_time", "modifiedTime")
	if rerr != nil {
		return rerr
	}
	u.Modified = timeOrReceived(modified, received)
	u.Metadata, rerr = profileMetadata(o, true)
	return rerr
}

// decodeCompany maps one wire company onto c.
func decodeCompany(raw []byte, appID string, received time.Time, c *event.CompanyUpdate) *recordError {
	o, rerr := parseObject(raw, "company")
	if rerr != nil {
		return rerr
	}
	*c = event.CompanyUpdate{AppID: appID}
	if c.CompanyID, rerr = o.id("company_id", "companyId"); rerr != nil {
		return rerr
	}
	if c.CompanyID == "" {
		return reject("missing_company_id", "company has no company_id")
	}
	if c.Domain, rerr = o.str("company_domain", "companyDomain"); rerr != nil {
		return rerr
	}
	modified, rerr := o.time("modified_time", "modifiedTime")
	if rerr != nil {
		return rerr
	}
	c.Modified = timeOrReceived(modified, received)
	c.Metadata, rerr = profileMetadata(o, false)
	return rerr
}

// profileMetadata is the caller's metadata plus the profile's SDK fields
// (campaign; for users also the last IP, user agent and masked session
// token). An empty campaign, which the SDK models send when none was set,
// is no campaign.
func profileMetadata(o object, user bool) ([]byte, *recordError) {
	caller, rerr := o.metadataObject("metadata")
	if rerr != nil {
		return nil, rerr
	}
	m := metaBuilder(caller)
	if m == nil {
		m = metaBuilder{}
	}
	campaign, rerr := o.obj("campaign")
	if rerr != nil {
		return nil, rerr
	}
	if len(campaign) > 0 {
		m.setRaw(keyCampaign, o["campaign"])
	}
	strs := []struct{ key, snake, camel string }{
		{keyIP, "ip_address", "ipAddress"},
		{keySessionToken, "session_token", "sessionToken"},
	}
	if user {
		strs = append(strs, struct{ key, snake, camel string }{keyUserAgent, "user_agent_string", "userAgentString"})
	}
	for _, f := range strs {
		s, rerr := o.str(f.snake, f.camel)
		if rerr != nil {
			return nil, rerr
		}
		if s == "" {
			continue
		}
		if f.key == keySessionToken {
			s = accesslog.MaskSecret(s)
		}
		m.set(f.key, s)
	}
	return m.bytes(), nil
}

// timeOrReceived is a profile update's modified time: as sent, or when it
// was received.
func timeOrReceived(t, received time.Time) time.Time {
	if t.IsZero() {
		return received
	}
	return t
}
