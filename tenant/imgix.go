package tenant

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/imgedge/imgedge/transform"
)

// VerifyRequest checks a request's signature, as Verify does, over the
// client's URL as req read it (req.Path, req.Signed), and also accepts an
// imgix signature when the tenant has an ImgixToken: an s of 32 hex
// digits, the MD5 of token + path + "?" + the query without s, the query
// exactly as the client spelt it (req.RawQuery), as imgix's libraries
// sign it.
//
// A query that url.ParseQuery could not read in full (req.Unreadable: a
// raw ';', a malformed %-escape) is refused with ErrUnsignableQuery before
// any signature is looked at: the query the signature covers lacks the
// pairs it could not read, while the route behind gets the query as sent.
// So the route never receives a pair the signature did not cover.
func VerifyRequest(s Settings, req *transform.Request) error {
	if !s.RequireSignature {
		return nil
	}
	if req.Unreadable != nil {
		return fmt.Errorf("%w: %v", ErrUnsignableQuery, req.Unreadable)
	}
	if s.ImgixToken != "" {
		if sigs := paramValues(req.Signed, SignatureParam); len(sigs) == 1 && !strings.Contains(sigs[0], ".") {
			return verifyImgix(s.ImgixToken, req.Path, req.RawQuery, sigs[0], req.Signed)
		}
	}
	return Verify(s, req.Path, req.Signed)
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
