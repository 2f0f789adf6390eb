package variant

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// hasCredentials reports whether a request carries credentials: an
// Authorization or a Cookie header.
func hasCredentials(h http.Header) bool {
	return len(h.Values("Authorization")) > 0 || len(h.Values("Cookie")) > 0
}

// credentials identifies the credentials a request carries, hashed, or ""
// for none: requests with different credentials never share a fetch. It is
// worked out only when a fetch is needed.
func credentials(h http.Header) string {
	if !hasCredentials(h) {
		return ""
	}
	sum := sha256.New()
	for _, v := range h.Values("Authorization") {
		sum.Write([]byte("a\x00" + v + "\x00"))
	}
	for _, v := range h.Values("Cookie") {
		sum.Write([]byte("c\x00" + v + "\x00"))
	}
	return hex.EncodeToString(sum.Sum(nil))
}
