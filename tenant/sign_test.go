package tenant

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/imgedge/imgedge/transform"
)

var (
	oldKey = Key{ID: "2024", Secret: bytes.Repeat([]byte{0xA5}, 32)}
	newKey = Key{ID: "2025", Secret: []byte("a new secret of thirty-two bytes")}
)

// request splits a URL into the decoded path and the query, as the handler
// sees them.
func request(t *testing.T, raw string) (string, url.Values) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("bad test URL %q: %v", raw, err)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		t.Fatalf("bad test query %q: %v", u.RawQuery, err)
	}
	return u.Path, q
}

func mustSign(t *testing.T, raw string, k Key) string {
	t.Helper()
	s, err := SignURL(raw, k)
	if err != nil {
		t.Fatalf("SignURL(%q): %v", raw, err)
	}
	return s
}

// sigOf is the s parameter of a signed URL.
func sigOf(t *testing.T, raw string) string {
	t.Helper()
	_, q := request(t, raw)
	return q.Get("s")
}

func TestVerify(t *testing.T) {
	const base = "https://img.example.com/photos/cat.jpg?w=400&fit=cover&v=3"
	rotating := Settings{RequireSignature: true, SigningKeys: []Key{newKey, oldKey}}
	rotated := Settings{RequireSignature: true, SigningKeys: []Key{newKey}}
	signedNew := mustSign(t, base, newKey)
	signedOld := mustSign(t, base, oldKey)
	macNew := strings.TrimPrefix(sigOf(t, signedNew), "2025.")

	tests := []struct {
		name     string
		settings Settings
		url      string
		want     error // nil, ErrMissingSignature or ErrBadSignature
	}{
		{"a URL signed with the current key is accepted", rotating, signedNew, nil},
		{"a URL signed with the previous key is accepted while that key is configured", rotating, signedOld, nil},
		{"a URL signed with a removed key is refused", rotated, signedOld, ErrBadSignature},
		{"parameters in another order are accepted", rotating,
			"https://img.example.com/photos/cat.jpg?s=" + sigOf(t, signedNew) + "&v=3&fit=cover&w=400", nil},
		{"an upper-case S carries the signature too", rotating,
			"https://img.example.com/photos/cat.jpg?w=400&fit=cover&v=3&S=" + sigOf(t, signedNew), nil},
		{"a tampered image parameter is refused", rotating, strings.Replace(signedNew, "w=400", "w=401", 1), ErrBadSignature},
		{"a tampered origin parameter is refused", rotating, strings.Replace(signedNew, "v=3", "v=4", 1), ErrBadSignature},
		{"an added parameter is refused", rotating, signedNew + "&blur=5", ErrBadSignature},
		{"a removed parameter is refused", rotating, strings.Replace(signedNew, "fit=cover&", "", 1), ErrBadSignature},
		{"a parameter renamed to its alias is refused", rotating, strings.Replace(signedNew, "w=400", "width=400", 1), ErrBadSignature},
		{"a tampered path is refused", rotating, strings.Replace(signedNew, "/cat.jpg", "/dog.jpg", 1), ErrBadSignature},
		{"the same path with a different escape is accepted", rotating, strings.Replace(signedNew, "/cat.jpg", "/c%61t.jpg", 1), nil},
		{"another host with the same path is accepted (the host is the tenant)", rotating,
			strings.Replace(signedNew, "img.example.com", "other.example.com", 1), nil},
		{"the MAC under another key's id is refused", rotating,
			"https://img.example.com/photos/cat.jpg?w=400&fit=cover&v=3&s=2024." + macNew, ErrBadSignature},
		{"an unknown key id is refused", rotating,
			"https://img.example.com/photos/cat.jpg?w=400&fit=cover&v=3&s=1999." + macNew, ErrBadSignature},
		{"a signature without a key id is refused", rotating,
			"https://img.example.com/photos/cat.jpg?w=400&fit=cover&v=3&s=" + macNew, ErrBadSignature},
		{"a truncated MAC is refused", rotating, signedNew[:len(signedNew)-1], ErrBadSignature},
		{"a signature given twice is refused", rotating, signedNew + "&s=" + sigOf(t, signedNew), ErrBadSignature},
		{"an empty signature is refused", rotating, base + "&s=", ErrBadSignature},
		{"a missing signature is refused as missing", rotating, base, ErrMissingSignature},
		{"an unsigned URL is accepted when signing is off", Settings{SigningKeys: []Key{newKey}}, base, nil},
		{"a wrong signature is not checked when signing is off", Settings{SigningKeys: []Key{newKey}},
			strings.Replace(signedNew, "w=400", "w=401", 1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, q := request(t, tt.url)
			err := Verify(tt.settings, path, q)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Verify(%s) = %v, want nil", tt.url, err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Verify(%s) = %v, want %v", tt.url, err, tt.want)
			}
			if err != nil {
				for _, k := range tt.settings.SigningKeys {
					if strings.Contains(err.Error(), string(k.Secret)) {
						t.Errorf("error %q contains a secret", err)
					}
				}
			}
		})
	}
}

func TestSigningString(t *testing.T) {
	tests := []struct {
		name, path, query, want string
	}{
		{"sorts the parameters and drops s", "/photos/cat.jpg", "w=400&fit=cover&s=k.abc", "/photos/cat.jpg?fit=cover&w=400"},
		{"keeps repeated values in order", "/a.png", "v=2&v=1&a=", "/a.png?a=&v=2&v=1"},
		{"escapes the path, a '?' included", "/a b/ü?x.jpg", "", "/a%20b/%C3%BC%3Fx.jpg?"},
		{"keeps the path's sub-delimiters", "/a$&+,:;=@-._~b", "", "/a$&+,:;=@-._~b?"},
		{"signs a path as the URL spells it", "/a!b(1).jpg", "", "/a!b(1).jpg?"},
		{"so an escaped sub-delimiter is another path", "/a%21b(1).jpg", "", "/a%21b(1).jpg?"},
		{"an escaped '?' stays escaped", "/a%3Fb.jpg", "", "/a%3Fb.jpg?"},
		{"escapes the query like url.QueryEscape", "/a", "x=a b&y=é%26", "/a?x=a+b&y=%C3%A9%26"},
		{"drops S in any case", "/a", "S=zzz&w=1", "/a?w=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if got := SigningString(tt.path, q); got != tt.want {
				t.Errorf("SigningString(%q, %q) = %q, want %q", tt.path, tt.query, got, tt.want)
			}
		})
	}
}

func TestSignMatchesAKnownVector(t *testing.T) {
	// printf '%s' '/photos/cat.jpg?fit=cover&w=400' |
	//   openssl dgst -sha256 -hmac 'a new secret of thirty-two bytes' -binary | basenc --base64url | tr -d =
	q := url.Values{"w": {"400"}, "fit": {"cover"}}
	const want = "2025.mOjbTEhrd-dwS5LzByIZ7RpIhra4diBl6QcwMdoTyz4"
	if got := Sign(newKey, "/photos/cat.jpg", q); got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestSignURL(t *testing.T) {
	tests := []struct {
		name, url, wantPrefix string
	}{
		{"puts the signature last after sorted parameters", "https://img.example.com/cat.jpg?w=400&fit=cover",
			"https://img.example.com/cat.jpg?fit=cover&w=400&s=2025."},
		{"replaces an old signature", "/cat.jpg?w=400&s=old.sig", "/cat.jpg?w=400&s=2025."},
		{"signs a URL without a query", "/cat.jpg", "/cat.jpg?s=2025."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustSign(t, tt.url, newKey)
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("SignURL(%q) = %q, want it to start %q", tt.url, got, tt.wantPrefix)
			}
			path, q := request(t, got)
			if err := Verify(Settings{RequireSignature: true, SigningKeys: []Key{newKey}}, path, q); err != nil {
				t.Errorf("Verify(SignURL(%q)) = %v", tt.url, err)
			}
		})
	}
	t.Run("refuses a URL without a path", func(t *testing.T) {
		if _, err := SignURL("https://img.example.com?w=1", newKey); err == nil {
			t.Error("SignURL gave no error")
		}
	})
}

func TestKeysDoNotPrintTheirSecret(t *testing.T) {
	s := Settings{SigningKeys: []Key{newKey}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, s); strings.Contains(out, string(newKey.Secret)) {
			t.Errorf("%s of settings prints the secret: %s", verb, out)
		}
	}
}

func TestVerifyExpires(t *testing.T) {
	defer func(f func() time.Time) { now = f }(now)
	clock := time.Unix(1_900_000_000, 0)
	now = func() time.Time { return clock }
	settings := Settings{RequireSignature: true, SigningKeys: []Key{newKey}}
	const base = "https://img.example.com/photos/cat.jpg?w=400"

	signed, err := SignURLExpires(base, newKey, clock.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(signed, "expires=1900003600&") {
		t.Fatalf("SignURLExpires = %s, want expires=1900003600 before s", signed)
	}
	tests := []struct {
		name string
		at   time.Time
		url  string
		want error
	}{
		{"a URL before its expiry is accepted", clock, signed, nil},
		{"a URL a second before its expiry is accepted", clock.Add(time.Hour - time.Second), signed, nil},
		{"a URL at its expiry is refused as expired", clock.Add(time.Hour), signed, ErrExpired},
		{"a URL after its expiry is refused as expired", clock.Add(48 * time.Hour), signed, ErrExpired},
		{"a later expiry is refused as tampered", clock, strings.Replace(signed, "expires=1900003600", "expires=1999999999", 1), ErrBadSignature},
		{"an expiry removed is refused as tampered", clock, strings.Replace(signed, "expires=1900003600&", "", 1), ErrBadSignature},
		{"an expiry added in another case is refused", clock, signed + "&Expires=1999999999", ErrBadSignature},
		{"an expiry added to a URL signed without one is refused", clock, mustSign(t, base, newKey) + "&expires=1999999999", ErrBadSignature},
		{"a URL signed without an expiry never expires", clock.Add(100 * 365 * 24 * time.Hour), mustSign(t, base, newKey), nil},
		{"a signed expiry given twice is refused", clock, mustSign(t, base+"&expires=1900003600&EXPIRES=1900003600", newKey), ErrBadSignature},
		{"a signed expiry that is not a number is refused", clock, mustSign(t, base+"&expires=tomorrow", newKey), ErrBadSignature},
		{"an expired URL with a bad MAC is refused as tampered, not expired", clock.Add(48 * time.Hour), strings.Replace(signed, "w=400", "w=401", 1), ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := tt.at
			now = func() time.Time { return clock }
			path, q := request(t, tt.url)
			err := Verify(settings, path, q)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Verify(%s) at %d = %v, want %v", tt.url, clock.Unix(), err, tt.want)
			}
		})
	}
	t.Run("SignURLExpires replaces an expiry in any case", func(t *testing.T) {
		got, err := SignURLExpires(base+"&EXPIRES=5", newKey, clock.Add(time.Minute))
		if err != nil || strings.Contains(got, "EXPIRES") || !strings.Contains(got, "expires=1900000060") {
			t.Errorf("SignURLExpires = %s, %v", got, err)
		}
	})
}

// TestVerifyRepeatedAndMixedCaseParameters: transform.Parse reads names in
// any case and refuses a parameter given twice (under one name or two), and
// the signature covers every name as written and every value in order. A
// signed URL therefore cannot be altered by repeating, reordering or
// re-casing its parameters, and none can be added.
func TestVerifyRepeatedAndMixedCaseParameters(t *testing.T) {
	settings := Settings{RequireSignature: true, SigningKeys: []Key{newKey}}
	const path = "/photos/cat.jpg"
	signedDup := mustSign(t, path+"?w=100&w=2000", newKey)
	signedOne := mustSign(t, path+"?w=100", newKey)
	signedUpper := mustSign(t, path+"?W=100", newKey)
	tests := []struct {
		name string
		url  string
		want error
	}{
		{"a signed repeated parameter verifies as signed", signedDup, nil},
		{"its values reordered are refused", strings.Replace(signedDup, "w=100&w=2000", "w=2000&w=100", 1), ErrBadSignature},
		{"one of its values dropped is refused", strings.Replace(signedDup, "w=100&", "", 1), ErrBadSignature},
		{"the same parameter added again is refused", signedOne + "&w=2000", ErrBadSignature},
		{"the same parameter added in upper case is refused", signedOne + "&W=2000", ErrBadSignature},
		{"the parameter re-cased is refused", strings.Replace(signedOne, "w=100", "W=100", 1), ErrBadSignature},
		{"an upper-case name signed as written verifies", signedUpper, nil},
		{"a percent-encoded name is the same name", strings.Replace(signedOne, "w=100", "%77=100", 1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, q := request(t, tt.url)
			err := Verify(settings, p, q)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Verify(%s) = %v, want %v", tt.url, err, tt.want)
			}
		})
	}
	// What verifies with a repeated parameter is still refused by Parse.
	_, q := request(t, signedDup)
	if _, err := applyQuery(settings, q, transform.DefaultLimits); err == nil {
		t.Error("Apply accepted w given twice")
	}
	_, q = request(t, signedUpper+"&w=100")
	if err := Verify(settings, path, q); !errors.Is(err, ErrBadSignature) {
		t.Errorf("w added next to a signed W: Verify = %v", err)
	}
}
