package identify

import "strings"

// IDPlaceholder replaces identifier segments in a normalized path.
const IDPlaceholder = "{id}"

// Route returns the route an event is grouped by: the route template API
// Gateway logged when there is one, otherwise the path with identifier
// segments replaced by {id}.
//
// HTTP API route keys carry the method ("GET /orders/{id}"); it is dropped
// because the method has its own field. The catch-all "$default" route key
// says nothing about the call, so the path decides then.
func Route(template, path string) string {
	if template != "" && template != "$default" {
		if sp := strings.IndexByte(template, ' '); sp > 0 && sp < len(template)-1 && template[sp+1] == '/' && isMethod(template[:sp]) {
			return template[sp+1:]
		}
		return template
	}
	if path == "" {
		return template
	}
	return NormalizePath(path)
}

// NormalizePath replaces the segments of path that look like identifiers
// (numbers, UUIDs, long hex strings, ULIDs and other long random tokens) with
// {id}, and drops any query string. Paths without identifiers come back
// unchanged and without allocating.
func NormalizePath(path string) string {
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	var b []byte
	start := 0
	for i := 0; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		seg := path[start:i]
		if seg != "" && isIdentifier(seg) {
			if b == nil {
				b = make([]byte, 0, len(path))
				b = append(b, path[:start]...)
			}
			b = append(b, IDPlaceholder...)
		} else if b != nil {
			b = append(b, seg...)
		}
		if b != nil && i < len(path) {
			b = append(b, '/')
		}
		start = i + 1
	}
	if b == nil {
		return path
	}
	return string(b)
}

func isIdentifier(seg string) bool {
	digits, hex, letters := 0, 0, 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			hex++
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			hex++
			letters++
		case c >= 'g' && c <= 'z', c >= 'G' && c <= 'Z':
			letters++
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '=' || c == '~':
		default:
			// Percent-encoding, '@' and the like: not a plain token; an
			// e-mail address or encoded name is still an identifier when long.
			if len(seg) >= 16 {
				return true
			}
			return false
		}
	}
	switch {
	case digits == len(seg):
		return true // 123
	case isUUID(seg):
		return true
	case hex == len(seg) && len(seg) >= 12 && digits > 0:
		return true // object ids, hashes
	case len(seg) >= 16 && digits > 0 && letters > 0:
		return true // ULIDs, base62/base64url tokens, prefixed ids like usr_01H...
	case digits > 0 && digits*2 >= len(seg) && len(seg) >= 4:
		return true // mostly numeric: dates like 2024-01-31, 12345-6
	}
	return false
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func isMethod(s string) bool {
	switch strings.ToUpper(s) {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY":
		return true
	}
	return false
}
