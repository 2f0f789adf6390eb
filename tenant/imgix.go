package tenant

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// VerifyRequest checks a request's signature, as Verify does, and also
// accepts an imgix signature when the tenant has an ImgixToken: an s of
// 32 hex digits, the MD5 of token + path + "?" + the query without s, the
// query exactly as the client spelt it (rawQuery), as imgix's libraries
// sign it. path is the request path as the URL spells it.
//
// A rawQuery that url.ParseQuery cannot read in full (a raw ';', a
// malformed %-escape) is refused with ErrUnsignableQuery before any
// signature is looked at: query, which the signature covers, lacks the
// pairs it could not read, while the route behind gets the query as sent.
// So the route never receives a pair the signature did not cover.
func VerifyRequest(s Settings, path, rawQuery string, query url.Values) error {
	if !s.RequireSignature {
		return nil
	}
	if _, err := url.ParseQuery(rawQuery); err != nil {
		return fmt.Errorf("%w: %v", ErrUnsignableQuery, err)
	}
	if s.ImgixToken != "" {
		if sigs := paramValues(query, SignatureParam); len(sigs) == 1 && !strings.Contains(sigs[0], ".") {
			return verifyImgix(s.ImgixToken, path, rawQuery, sigs[0], query)
		}
	}
	return Verify(s, path, query)
}

func verifyImgix(token, path, rawQuery, sig string, query url.Values) error {
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != md5.Size {
		return fmt.Errorf("%w: an imgix s is 32 hex digits", ErrBadSignature)
	}
	want := md5.Sum([]byte(token + path + imgixQuery(rawQuery)))
	if subtle.ConstantTimeCompare(got, want[:]) != 1 {
		return ErrBadSignature
	}
	return checkExpires(query)
}

// imgixQuery is "?" and the raw query without its s pair (any case), as
// the client spelt the rest, or "" when nothing is left.
func imgixQuery(rawQuery string) string {
	var kept []string
	for pair := range strings.SplitSeq(rawQuery, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if pair == "" || strings.EqualFold(k, SignatureParam) {
			continue
		}
		kept = append(kept, pair)
	}
	if len(kept) == 0 {
		return ""
	}
	return "?" + strings.Join(kept, "&")
}

// SignImgix signs a path and query as imgix's secureURLToken does: the
// value of s for a tenant whose ImgixToken is token. rawQuery is the
// query as it will be sent, without s.
func SignImgix(token, path, rawQuery string) string {
	sum := md5.Sum([]byte(token + path + imgixQuery(rawQuery)))
	return hex.EncodeToString(sum[:])
}
