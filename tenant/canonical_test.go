package tenant

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		name, host, want string
	}{
		{"a lower-case name stays", "img.example.com", "img.example.com"},
		{"upper case is lowered", "IMG.Example.COM", "img.example.com"},
		{"one trailing dot is removed", "img.example.com.", "img.example.com"},
		{"a port is removed", "img.example.com:8443", "img.example.com"},
		{"an empty port is removed", "img.example.com:", "img.example.com"},
		{"a trailing dot and a port", "Img.Example.com.:80", "img.example.com"},
		{"an internationalised name becomes punycode", "BÜCHER.example", "xn--bcher-kva.example"},
		{"punycode stays punycode", "xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"full-width letters are mapped", "ｅｘａｍｐｌｅ.com", "example.com"},
		{"an underscore is accepted", "my_host.internal", "my_host.internal"},
		{"hyphens in the third and fourth place are accepted", "r3---sn-abc.example.net", "r3---sn-abc.example.net"},
		{"an IPv4 address with a port", "127.0.0.1:8080", "127.0.0.1"},
		{"an IPv6 address with a port", "[::1]:8080", "::1"},
		{"an IPv6 address in brackets", "[0:0::1]", "::1"},
		{"a bare IPv6 address", "2001:DB8::1", "2001:db8::1"},
		{"a name of 253 bytes", strings.Repeat("a.", 126) + "b", strings.Repeat("a.", 126) + "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical(tt.host)
			if err != nil || got != tt.want {
				t.Errorf("Canonical(%q) = %q, %v; want %q", tt.host, got, err, tt.want)
			}
		})
	}
}

func TestCanonicalRefuses(t *testing.T) {
	tests := []struct{ name, host string }{
		{"an empty name", ""},
		{"a port alone", ":8080"},
		{"a dot alone", "."},
		{"an empty label", "img..example.com"},
		{"a leading dot", ".example.com"},
		{"two trailing dots", "example.com.."},
		{"a name over 253 bytes", strings.Repeat("a.", 127) + "b"},
		{"a name of 253 bytes but for its trailing dots", strings.Repeat("a.", 127) + "."},
		{"a very long name", strings.Repeat("a", 100000)},
		{"a label over 63 bytes", strings.Repeat("a", 64) + ".com"},
		{"a space", "img example.com"},
		{"a slash", "img.example.com/x"},
		{"a NUL", "img\x00.example.com"},
		{"a star", "*"},
		{"a wildcard", "*.example.com"},
		{"a port that is not a number", "img.example.com:http"},
		{"a port too long", "img.example.com:123456"},
		{"an unclosed bracket", "[::1:80"},
		{"a host name in brackets", "[example.com]:80"},
		{"an IPv4 address in brackets", "[127.0.0.1]"},
		{"junk after the brackets", "[::1]x80"},
		{"bad punycode", "xn--zz--.example"},
		{"invalid UTF-8", "img\xff.example.com"},
		{"a user name", "user@img.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Canonical(tt.host); !errors.Is(err, ErrBadName) {
				t.Errorf("Canonical(%q) = %q, %v; want an ErrBadName", tt.host, got, err)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		fromHost bool
		want     string // "" for an error
	}{
		{"a host is canonical", "IMG.example.com:80", true, "img.example.com"},
		{"another value is only trimmed", "  Acme Corp/EU \t", false, "Acme Corp/EU"},
		{"another value keeps its case and dots", "Shop.Example.", false, "Shop.Example."},
		{"another value may be Unicode", "Bücher", false, "Bücher"},
		{"another value that is empty", "  ", false, ""},
		{"another value with a control character", "a\nb", false, ""},
		{"another value over 253 bytes", strings.Repeat("x", 254), false, ""},
		{"another value of 253 bytes", strings.Repeat("x", 253), false, strings.Repeat("x", 253)},
		{"another value that is the default's name", " * ", false, ""},
		{"another value that is not UTF-8", "\xff", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in, tt.fromHost)
			if tt.want == "" {
				if !errors.Is(err, ErrBadName) {
					t.Errorf("Normalize(%q, %v) = %q, %v; want an ErrBadName", tt.in, tt.fromHost, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Normalize(%q, %v) = %q, %v; want %q", tt.in, tt.fromHost, got, err, tt.want)
			}
		})
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"img.example.com", "[::1]:80", "BÜCHER.example.", "a..b", "xn--bcher-kva.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		got, err := Canonical(host)
		if err != nil {
			return
		}
		if len(got) > MaxNameLen {
			t.Fatalf("Canonical(%q) = %q, longer than %d bytes", host, got, MaxNameLen)
		}
		again, err := Canonical(got)
		if err != nil || again != got {
			t.Fatalf("Canonical(%q) = %q, but Canonical(%q) = %q, %v", host, got, got, again, err)
		}
	})
}
