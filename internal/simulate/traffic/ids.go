package traffic

import "math/rand/v2"

const (
	hexDigits   = "0123456789abcdef"
	lowerAlnum  = "abcdefghijklmnopqrstuvwxyz0123456789"
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	mixedAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	base64Alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// appendUUID appends a random version-4 UUID, as API Gateway's REST request
// ids and Cognito identity ids look.
func appendUUID(b []byte, r *rand.Rand) []byte {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	var u [16]byte
	for i := range 8 {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

// appendChars appends n characters drawn from alphabet.
func appendChars(b []byte, r *rand.Rand, n int, alphabet string) []byte {
	var bits uint64
	left := 0
	for range n {
		if left == 0 {
			bits, left = r.Uint64(), 10
		}
		b = append(b, alphabet[int(bits&63)%len(alphabet)])
		bits >>= 6
		left--
	}
	return b
}

func randString(r *rand.Rand, n int, alphabet string) string {
	return string(appendChars(make([]byte, 0, n), r, n, alphabet))
}

func uuidString(r *rand.Rand) string {
	return string(appendUUID(make([]byte, 0, 36), r))
}

// appendHTTPRequestID appends an id shaped like those of HTTP and WebSocket
// APIs ("JX9KqiLxIAMEbQw="): 15 base64 characters and a pad.
func appendHTTPRequestID(b []byte, r *rand.Rand) []byte {
	return append(appendChars(b, r, 15, base64Alpha[:62]), '=')
}
