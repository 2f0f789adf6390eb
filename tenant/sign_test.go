package tenant

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
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
