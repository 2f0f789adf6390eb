package tenant

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// SignatureParam is the query parameter that carries a URL signature.
const SignatureParam = "s"

// Signature errors. Both are answered 403; they differ for logs and tests.
var (
	// ErrMissingSignature: the tenant requires signed URLs and the request
	// has no s parameter.
	ErrMissingSignature = errors.New("this URL must be signed")
	// ErrBadSignature: the s parameter is malformed, names an unknown key
	// or does not match the URL.
	ErrBadSignature = errors.New("the URL signature does not match")
)

// macLen is the length of an HMAC-SHA256 in unpadded base64url.
var macLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// SigningString is the exact message a URL signature authenticates:
//
//	EscapedPath(path) + "?" + Encode(query without s)
//
// path is the request path with percent-escapes decoded (Go's URL.Path),
// escaped again the one way Go's url.URL.EscapedPath does for a URL without
// RawPath: every byte except A-Z a-z 0-9 - . _ ~ $ & + , / : ; = @ becomes
// %XX with upper-case hex. The escaped path therefore holds no '?' and the
// two halves cannot be confused.
//
// The query is every parameter of the URL, image parameters and the
// origin's alike, except the signature itself (the key "s" in any case),
// as Go's url.Values.Encode writes it: keys sorted by their bytes, values
// of a repeated key in the order given, "key=value" pairs joined by '&',
// keys and values escaped as by url.QueryEscape (space as '+', every byte
// except A-Z a-z 0-9 - . _ ~ as %XX). Parameter order in the URL thus does
// not matter; names are signed as written, so w=400 and width=400 are
// different URLs.
//
// For /photos/cat.jpg?w=400&fit=cover&s=... the string is
// "/photos/cat.jpg?fit=cover&w=400".
func SigningString(path string, query url.Values) string {
	unsigned := make(url.Values, len(query))
	for k, v := range query {
		if !isParam(k, SignatureParam) {
			unsigned[k] = v
		}
	}
	return (&url.URL{Path: path}).EscapedPath() + "?" + unsigned.Encode()
}

// Sign returns the signature of a URL made with key: the value of its s
// parameter, "<key id>.<mac>", where mac is the HMAC-SHA256 of
// SigningString(path, query) under the key's secret, in unpadded base64url
// (43 characters).
func Sign(key Key, path string, query url.Values) string {
	return key.ID + "." + base64.RawURLEncoding.EncodeToString(mac(key.Secret, SigningString(path, query)))
}

// SignURL signs a URL (absolute, or a path with its query) with key and
// returns it with its s parameter set; any s it had is replaced. The query
// comes back in canonical order.
func SignURL(rawURL string, key Key) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if u.Path == "" {
		return "", fmt.Errorf("URL %q has no path to sign", rawURL)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("URL %q: %w", rawURL, err)
	}
	for k := range q {
		if isParam(k, SignatureParam) {
			delete(q, k)
		}
	}
	sig := Sign(key, u.Path, q)
	// The signature goes last, after the parameters it covers.
	u.RawQuery = q.Encode()
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += SignatureParam + "=" + url.QueryEscape(sig)
	return u.String(), nil
}

// Verify checks a request's signature against the tenant's keys when the
// tenant requires one, and returns nil otherwise. path is the decoded
// request path (URL.Path) and query the whole query, s included, both as
// the client sent them: before any rewrite or preset expansion. The MAC is
// compared in constant time. Errors wrap ErrMissingSignature or
// ErrBadSignature and never contain a secret.
func Verify(s Settings, path string, query url.Values) error {
	if !s.RequireSignature {
		return nil
	}
	var sigs []string
	for k, v := range query {
		if isParam(k, SignatureParam) {
			sigs = append(sigs, v...)
		}
	}
	switch {
	case len(sigs) == 0:
		return ErrMissingSignature
	case len(sigs) > 1:
		return fmt.Errorf("%w: s is given more than once", ErrBadSignature)
	}
	id, enc, ok := strings.Cut(sigs[0], ".")
	if !ok || len(enc) != macLen {
		return fmt.Errorf("%w: s must be <key id>.<%d characters of base64url>", ErrBadSignature, macLen)
	}
	got, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return fmt.Errorf("%w: s must be <key id>.<%d characters of base64url>", ErrBadSignature, macLen)
	}
	for _, k := range s.SigningKeys {
		if k.ID == id {
			if hmac.Equal(got, mac(k.Secret, SigningString(path, query))) {
				return nil
			}
			return ErrBadSignature
		}
	}
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: malformed key id", ErrBadSignature)
	}
	return fmt.Errorf("%w: unknown key id %q", ErrBadSignature, id)
}

func mac(secret []byte, msg string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
