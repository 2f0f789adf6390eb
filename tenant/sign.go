package tenant

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignatureParam is the query parameter that carries a URL signature.
const SignatureParam = "s"

// ExpiresParam is the query parameter that bounds a signed URL's life: the
// Unix time, in seconds, from which Verify refuses it. Like every other
// parameter it is covered by the signature.
const ExpiresParam = "expires"

// Signature errors. All are answered 403; they differ for the message, logs
// and tests.
var (
	// ErrMissingSignature: the tenant requires signed URLs and the request
	// has no s parameter.
	ErrMissingSignature = errors.New("this URL must be signed")
	// ErrBadSignature: the s parameter is malformed, names an unknown key
	// or does not match the URL.
	ErrBadSignature = errors.New("the URL signature does not match")
	// ErrExpired: the signature matches, but the URL's expires time has
	// passed.
	ErrExpired = errors.New("the signed URL has expired")
	// ErrUnsignableQuery: the query has a pair url.ParseQuery cannot read
	// (a raw ';', a malformed %-escape). A signature covers the pairs that
	// are read, and the route would get the others too: VerifyRequest
	// refuses such a query whatever its signature.
	ErrUnsignableQuery = errors.New("the query has a pair a signature cannot cover")
)

// now is the clock Verify checks expires against.
var now = time.Now

// macLen is the length of an HMAC-SHA256 in unpadded base64url.
var macLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// SigningString is the exact message a URL signature authenticates:
//
//	EscapedPath(path) + "?" + Encode(query without s)
//
// path is the request path as the URL spells it (Go's URL.EscapedPath()):
// "/a!b.jpg" and "/a%21b.jpg", which an origin may tell apart, are two
// URLs with two signatures. A path that is not a valid escaped path (a
// space, a '?', a byte outside ASCII: a decoded path) is escaped the way Go's
// url.URL.EscapedPath does, every byte except A-Z a-z 0-9 - . _ ~ $ & + , /
// : ; = @ becoming %XX with upper-case hex. Either way the escaped path
// holds no '?' and the two halves cannot be confused.
//
// The query is every parameter of the URL, image parameters and the
// origin's alike, except the signature itself (the key "s" in any case),
// as Go's url.Values.Encode writes it: keys sorted by their bytes, values
// of a repeated key in the order given, "key=value" pairs joined by '&',
// keys and values escaped as by url.QueryEscape (space as '+', every byte
// except A-Z a-z 0-9 - . _ ~ as %XX). Parameter order in the URL thus does
// not matter; names are signed as written, so w=400 and width=400 (and
// W=400) are different URLs, and a parameter added to a signed URL, in
// any case, or a repeated value reordered, changes the string.
// An expires parameter is part of the query like any other.
//
// The scheme and host are not part of it, on purpose: one signed URL is
// good on every host name the tenant is served under and through every CDN
// layer in front of imgedge, which may rewrite the Host. What binds a URL to
// a tenant is the key: only a tenant whose SigningKeys hold it accepts it.
// Give each tenant its own keys.
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
	return escapedPath(path) + "?" + unsigned.Encode()
}

// escapedPath is path as a URL spells it: path itself when it is a valid
// escaped path, else path escaped.
func escapedPath(path string) string {
	u := &url.URL{Path: path}
	if decoded, err := url.PathUnescape(path); err == nil {
		u.Path, u.RawPath = decoded, path
	}
	return u.EscapedPath()
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
// comes back in canonical order. The signature covers the path and the
// query, not the scheme or host: the URL is valid on every host name of
// the tenant. An expires parameter already in the URL is signed with it;
// SignURLExpires sets one.
func SignURL(rawURL string, key Key) (string, error) {
	return signURL(rawURL, key, nil)
}

// SignURLExpires is SignURL for a URL that Verify refuses (ErrExpired)
// from the time expires on: it sets the expires parameter to its Unix
// time in seconds, replacing any the URL had, and signs it.
func SignURLExpires(rawURL string, key Key, expires time.Time) (string, error) {
	return signURL(rawURL, key, &expires)
}

func signURL(rawURL string, key Key, expires *time.Time) (string, error) {
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
		if isParam(k, SignatureParam) || expires != nil && isParam(k, ExpiresParam) {
			delete(q, k)
		}
	}
	if expires != nil {
		q.Set(ExpiresParam, strconv.FormatInt(expires.Unix(), 10))
	}
	sig := Sign(key, u.EscapedPath(), q)
	// The signature goes last, after the parameters it covers.
	u.RawQuery = q.Encode()
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += SignatureParam + "=" + url.QueryEscape(sig)
	return u.String(), nil
}

// Verify checks a request's signature against the tenant's keys when the
// tenant requires one, and returns nil otherwise. path is the request path
// as the URL spells it (URL.EscapedPath()) and query the whole query, s
// included, both as
// the client sent them: before any rewrite or preset expansion. The MAC is
// compared in constant time. A URL with an expires parameter (any case)
// whose signature matches is refused with ErrExpired from that second on;
// an expires that is repeated or not a whole number is ErrBadSignature.
// Errors wrap ErrMissingSignature, ErrBadSignature or ErrExpired and never
// contain a secret.
func Verify(s Settings, path string, query url.Values) error {
	if !s.RequireSignature {
		return nil
	}
	sigs := paramValues(query, SignatureParam)
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
			if !hmac.Equal(got, mac(k.Secret, SigningString(path, query))) {
				return ErrBadSignature
			}
			return checkExpires(query)
		}
	}
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: malformed key id", ErrBadSignature)
	}
	return fmt.Errorf("%w: unknown key id %q", ErrBadSignature, id)
}

// paramValues is every value of the parameter name, in any case.
func paramValues(query url.Values, name string) []string {
	var vals []string
	for k, v := range query {
		if isParam(k, name) {
			vals = append(vals, v...)
		}
	}
	return vals
}

// checkExpires refuses a URL whose expires time has come.
func checkExpires(query url.Values) error {
	vals := paramValues(query, ExpiresParam)
	switch len(vals) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("%w: %s is given more than once", ErrBadSignature, ExpiresParam)
	}
	exp, err := strconv.ParseInt(vals[0], 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s must be a Unix time in seconds", ErrBadSignature, ExpiresParam)
	}
	if now().Unix() >= exp {
		return ErrExpired
	}
	return nil
}

func mac(secret []byte, msg string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
