package traffic

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Auth is how a user authenticates, and so which access-log key identifies
// them (PRODUCT.md section 6).
type Auth uint8

// The ways of authenticating, in the order of the identification priority.
const (
	AuthIAMUser   Auth = iota // IAM user: user, caller and userArn logged
	AuthAPIKey                // API key: apiKey and apiKeyId logged
	AuthLambda                // Lambda authorizer: principalId logged
	AuthCognito               // Cognito identity pool credentials: cognitoIdentityId, a shared role caller and userArn
	AuthIAMCaller             // assumed IAM role: caller and userArn logged
	AuthIAMARN                // only userArn logged
	AuthJWT                   // Cognito user pool or JWT authorizer: claimsSub logged, read as principalId
	NumAuths                  // the number of ways
)

// Key is the access-log key that identifies a user of this kind. A JWT
// user's claimsSub stands in for principalId, which such users lack.
func (a Auth) Key() string {
	return [...]string{"user", "apiKeyId", "principalId", "cognitoIdentityId", "caller", "userArn", "claimsSub", ""}[min(a, NumAuths)]
}

func (a Auth) String() string {
	return [...]string{"iam-user", "api-key", "lambda", "cognito", "iam-caller", "iam-arn", "jwt", "unknown"}[min(a, NumAuths)]
}

// Identity holds the identity values a user's lines carry, "-" when absent.
type Identity struct {
	User, Caller, UserArn, APIKey, APIKeyID, PrincipalID, CognitoIdentityID, ClaimsSub string
}

// Company is a customer organisation.
type Company struct {
	ID, Name, Plan string
}

// User is one simulated API user and the ground truth about them.
type User struct {
	Index int
	// ID is the value PRODUCT.md section 6 identifies the user by: the
	// first of user, apiKeyId, principalId (or claimsSub without one),
	// cognitoIdentityId, caller, userArn that their lines carry.
	ID       string
	Auth     Auth
	Identity Identity
	Company  int // index into Model.Companies()
	// CompanyID is Companies()[Company].ID.
	CompanyID string
	// CompanyLogged says whether the lines carry companyId; when false the
	// user is linked to the company only through the users API.
	CompanyLogged bool
	Email, Name   string
	IP, UserAgent string

	// New users sign up in [Start, End); the others before Start.
	New    bool
	Signup time.Time
	// FirstCall is when a new user's first regular call is planned (it may
	// fall after End); on WebSocket APIs, when the session carrying it
	// opens. Zero for users who never activate and for existing users.
	FirstCall      time.Time
	NeverActivates bool
	// Tourist users churn about a day after their first call.
	Tourist bool
	// Churn is when the user stops calling; it may be after End.
	Churn time.Time
	// ChurnCall says the user deletes their account when churning.
	ChurnCall bool
	// EventsPerDay is the mean daily volume of regular calls, before the
	// rhythm.
	EventsPerDay float64
}

// UserLink is what the users API receives for a user (Moesif's
// POST /v1/users/batch items).
type UserLink struct {
	UserID    string
	CompanyID string
	Metadata  map[string]string
	Modified  time.Time
}

var (
	companyWords = [...]string{"acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell", "cyberdyne", "soylent",
		"vandelay", "wonka", "aperture", "massive", "oscorp", "pied", "gringotts", "nakatomi", "monarch", "dunder"}
	companySuffix = [...]string{"labs", "corp", "systems", "inc", "io", "group", "works", "cloud"}
	plans         = [...]string{"free", "startup", "business", "enterprise"}
	firstNames    = [...]string{"ada", "alan", "grace", "linus", "ken", "barbara", "edsger", "margaret", "dennis", "radia", "donald", "frances", "john", "sophie", "tim", "katherine"}
	browserAgents = [...]string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	}
	clientAgents = [...]string{"python-requests/2.31.0", "okhttp/4.12.0", "curl/8.5.0", "PostmanRuntime/7.37.3", "Go-http-client/1.1", "axios/1.6.8", "node-fetch/1.0"}
	sdkAgents    = [...]string{"aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2", "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#6.1 lang/python#3.12.2", "aws-sdk-java/2.25.31 Linux/6.1 OpenJDK_64-Bit_Server_VM/21.0.2", "aws-sdk-js/3.556.0 ua/2.0 os/linux lang/js md/nodejs#20.12.2"}
)

// populate draws the companies and users. It consumes r in a fixed order,
// so the population depends only on the seed and the Config.
func populate(c Config, r *rand.Rand, start, end int64) ([]Company, []User) {
	companies := make([]Company, c.Companies)
	for i := range companies {
		name := companyWords[r.IntN(len(companyWords))] + "-" + companySuffix[r.IntN(len(companySuffix))]
		companies[i] = Company{
			ID:   "co_" + randString(r, 10, lowerAlnum),
			Name: name + "-" + strconv.Itoa(i+1),
			Plan: plans[min(r.IntN(len(plans)+2), len(plans)-1)],
		}
	}
	// Company sizes are Zipf-like: a few large customers, a long tail.
	cum := make([]float64, c.Companies)
	t := 0.0
	for i := range cum {
		t += 1 / math.Pow(float64(i+1), 0.8)
		cum[i] = t
	}

	auths := c.authMix().weights()
	authTotal := 0.0
	for _, w := range auths {
		authTotal += w
	}
	newShare := share(c.NewUserShare, 0.5)
	neverShare := share(c.NeverActivateShare, 0.15)
	touristShare := share(c.TouristShare, 0.25)
	apiOnly := share(c.UsersAPIOnlyShare, 0.3)
	if c.NoCompanyKey {
		apiOnly = 1
	}
	churnMean := orDefault(c.ChurnMeanDays, 60) * dayMs
	mean := orDefault(c.EventsPerUserDay, 40)
	const volSigma = 1.0
	account := c.AccountID
	roleID := "AROA" + randString(r, 17, upperAlnum)

	users := make([]User, c.Users)
	for i := range users {
		u := &users[i]
		u.Index = i
		x := r.Float64() * t
		lo, hi := 0, len(cum)-1
		for lo < hi {
			mid := (lo + hi) / 2
			if cum[mid] < x {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		u.Company = lo
		u.CompanyID = companies[lo].ID
		u.CompanyLogged = r.Float64() >= apiOnly

		a := r.Float64() * authTotal
		u.Auth = NumAuths - 1
		for k, w := range auths {
			if a < w {
				u.Auth = Auth(k)
				break
			}
			a -= w
		}
		first := firstNames[r.IntN(len(firstNames))]
		u.Name = first + "-" + strconv.Itoa(i+1)
		u.Email = u.Name + "@" + companies[lo].Name + ".example"
		u.Identity = identityFor(u.Auth, r, account, roleID, u.Name)
		u.ID = identify(u.Identity)
		u.IP = randomIP(r)
		switch u.Auth {
		case AuthIAMUser, AuthIAMCaller, AuthIAMARN, AuthCognito:
			u.UserAgent = sdkAgents[r.IntN(len(sdkAgents))]
		default:
			if r.IntN(3) == 0 {
				u.UserAgent = browserAgents[r.IntN(len(browserAgents))]
			} else {
				u.UserAgent = clientAgents[r.IntN(len(clientAgents))]
			}
		}
		u.EventsPerDay = mean * math.Exp(volSigma*r.NormFloat64()-volSigma*volSigma/2)

		u.New = r.Float64() < newShare
		life := r.ExpFloat64() * churnMean
		if u.New {
			signup := start + int64(r.Float64()*float64(end-start))
			u.Signup = time.UnixMilli(signup).UTC()
			u.NeverActivates = r.Float64() < neverShare
			first := signup + int64(r.ExpFloat64()*2*hourMs) + 1000
			if !u.NeverActivates {
				u.FirstCall = time.UnixMilli(first).UTC()
			}
			u.Tourist = r.Float64() < touristShare
			if u.Tourist {
				life = r.ExpFloat64() * dayMs
			}
			u.Churn = time.UnixMilli(first + int64(life)).UTC()
		} else {
			// Exponential lifetimes are memoryless: a user alive at Start
			// has the same residual lifetime distribution as a new one.
			u.Signup = time.UnixMilli(start - int64(r.Float64()*180*dayMs) - 1000).UTC()
			u.Churn = time.UnixMilli(start + int64(life)).UTC()
		}
		u.ChurnCall = r.Float64() < 0.3
	}
	return companies, users
}

func identityFor(a Auth, r *rand.Rand, account, roleID, name string) Identity {
	id := anonymousIdentity
	switch a {
	case AuthIAMUser:
		id.User = "AIDA" + randString(r, 17, upperAlnum)
		id.Caller = id.User
		id.UserArn = "arn:aws:iam::" + account + ":user/" + name
	case AuthAPIKey:
		id.APIKey = randString(r, 40, mixedAlnum)
		id.APIKeyID = randString(r, 10, lowerAlnum)
	case AuthLambda:
		id.PrincipalID = "usr_" + randString(r, 16, lowerAlnum)
	case AuthCognito:
		// Identity pool credentials assume one shared role: caller and
		// userArn are the same for every such user, which is why
		// cognitoIdentityId ranks above them.
		id.CognitoIdentityID = "us-east-1:" + uuidString(r)
		id.Caller = roleID + ":CognitoIdentityCredentials"
		id.UserArn = "arn:aws:sts::" + account + ":assumed-role/Cognito_AppAuth_Role/CognitoIdentityCredentials"
	case AuthIAMCaller:
		session := name + "-" + randString(r, 6, lowerAlnum)
		id.Caller = "AROA" + randString(r, 17, upperAlnum) + ":" + session
		id.UserArn = "arn:aws:sts::" + account + ":assumed-role/PartnerAccess/" + session
	case AuthIAMARN:
		id.UserArn = "arn:aws:iam::" + account + ":user/svc-" + name
	case AuthJWT:
		id.ClaimsSub = uuidString(r)
	}
	return id
}

// identify applies PRODUCT.md section 6 to an identity, claimsSub standing
// in for a missing principalId.
func identify(id Identity) string {
	principal := id.PrincipalID
	if principal == "-" {
		principal = id.ClaimsSub
	}
	for _, v := range [...]string{id.User, id.APIKeyID, principal, id.CognitoIdentityID, id.Caller, id.UserArn} {
		if v != "-" && v != "" {
			return v
		}
	}
	return ""
}

// randomIP draws a public-looking IPv4 address; it is only ever text.
func randomIP(r *rand.Rand) string {
	for {
		a := 1 + r.IntN(223)
		if a == 10 || a == 100 || a == 127 || a == 169 || a == 172 || a == 192 {
			continue
		}
		return strconv.Itoa(a) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
	}
}

// links returns what the users API should receive: every user, linked to
// their company, with metadata, modified at sign-up.
func links(users []User, companies []Company) []UserLink {
	out := make([]UserLink, len(users))
	for i, u := range users {
		out[i] = UserLink{
			UserID:    u.ID,
			CompanyID: u.CompanyID,
			Metadata: map[string]string{
				"email": u.Email, "name": u.Name, "auth": u.Auth.String(),
				"plan": companies[u.Company].Plan, "company_name": companies[u.Company].Name,
			},
			Modified: u.Signup,
		}
	}
	return out
}
