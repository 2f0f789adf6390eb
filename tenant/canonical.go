package tenant

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxNameLen is the longest tenant name, in bytes: the longest DNS name.
const MaxNameLen = 253

// Default is the tenant name whose settings apply to every tenant not
// listed by name. It is never the name of a request's tenant.
const Default = "*"

// ErrBadName is wrapped by every error of Canonical and Normalize: the
// handler answers 400 for it.
var ErrBadName = errors.New("bad tenant name")

// hostProfile maps a host name the way browsers look it up (UTS #46,
// non-transitional: lower case, width and compatibility mappings, Unicode
// labels to punycode), but accepts what HTTP hosts carry in practice:
// underscores and labels such as "r3---sn-abc".
var hostProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false),
	idna.CheckHyphens(false), idna.StrictDomainName(false))

// Canonical is the one form of a tenant name taken from a request's host,
// the form every lookup, cache key, rate-limit bucket and usage record
// uses:
//
//   - a port is removed ("img.example.com:8443", "[::1]:8080");
//   - one trailing dot is removed;
//   - a name is lower-cased and its internationalised labels are written in
//     ASCII punycode ("BÜCHER.example" -> "xn--bcher-kva.example");
//   - an IP address is written as net/netip does, IPv6 without brackets
//     ("[0:0::1]:80" -> "::1").
//
// Names longer than MaxNameLen bytes, with an empty label, a label longer
// than 63 bytes or a character outside letters, digits, '-' and '_' are
// refused with an error wrapping ErrBadName.
func Canonical(host string) (string, error) {
	name, err := canonicalHost(host)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadName, err)
	}
	return name, nil
}

// Normalize is the tenant name of a request. fromHost says the name is the
// request's host (the default tenant, {http.request.host}): it is then
// Canonical. Any other value, such as a header a placeholder reads, is
// used as configured, only trimmed of surrounding white space; it must be
// 1 to MaxNameLen bytes of valid UTF-8 without control characters, and
// must not be Default. Errors wrap ErrBadName.
func Normalize(name string, fromHost bool) (string, error) {
	if fromHost {
		return Canonical(name)
	}
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return "", fmt.Errorf("%w: empty", ErrBadName)
	case len(n) > MaxNameLen:
		return "", fmt.Errorf("%w: longer than %d bytes", ErrBadName, MaxNameLen)
	case !utf8.ValidString(n):
		return "", fmt.Errorf("%w: not UTF-8", ErrBadName)
	case strings.ContainsFunc(n, unicode.IsControl):
		return "", fmt.Errorf("%w: control character", ErrBadName)
	case n == Default:
		return "", fmt.Errorf("%w: %q names the default settings, not a tenant", ErrBadName, Default)
	}
	return n, nil
}

// configName is the name a store keys a configured tenant by: Default as
// it is, other names as Normalize gives them.
func configName(name string, fromHost bool) (string, error) {
	if strings.TrimSpace(name) == Default {
		return Default, nil
	}
	return Normalize(name, fromHost)
}

func canonicalHost(host string) (string, error) {
	if host == "" {
		return "", errors.New("empty")
	}
	// A bound on the work before anything is parsed: a port and a trailing
	// dot add at most 7 bytes, and punycode never shrinks a name.
	if len(host) > MaxNameLen+7 {
		return "", fmt.Errorf("longer than %d bytes", MaxNameLen)
	}
	if !utf8.ValidString(host) {
		return "", errors.New("not UTF-8")
	}
	h, err := stripPort(host)
	if err != nil {
		return "", err
	}
	h = strings.TrimSuffix(h, ".")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.String(), nil
	}
	if strings.ContainsRune(h, ':') {
		return "", errors.New("not a host name or IP address")
	}
	// ASCII in canonical form needs no mapping; punycode labels are checked.
	if !isLowerASCIIName(h) || strings.Contains(h, "xn--") {
		if h, err = hostProfile.ToASCII(h); err != nil {
			return "", err
		}
	}
	if len(h) > MaxNameLen {
		return "", fmt.Errorf("longer than %d bytes", MaxNameLen)
	}
	for label := range strings.SplitSeq(h, ".") {
		switch {
		case label == "":
			return "", errors.New("empty label")
		case len(label) > 63:
			return "", errors.New("label longer than 63 bytes")
		case !isLowerASCIIName(label):
			return "", errors.New("characters other than letters, digits, '-' and '_'")
		}
	}
	return h, nil
}

// stripPort removes ":port" (digits only) and the brackets of an IPv6
// literal.
func stripPort(h string) (string, error) {
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", errors.New("unclosed '['")
		}
		addr, rest := h[1:end], h[end+1:]
		if rest != "" && (rest[0] != ':' || !isPort(rest[1:])) {
			return "", errors.New("bad port")
		}
		if _, err := netip.ParseAddr(addr); err != nil || !strings.Contains(addr, ":") {
			return "", errors.New("brackets around something other than an IPv6 address")
		}
		return addr, nil
	}
	if strings.Count(h, ":") != 1 {
		return h, nil // no port, or a bare IPv6 address
	}
	name, port, _ := strings.Cut(h, ":")
	if !isPort(port) {
		return "", errors.New("bad port")
	}
	return name, nil
}

// isPort reports whether p is empty (as in "host:") or 1 to 5 digits.
func isPort(p string) bool {
	if len(p) > 5 {
		return false
	}
	for i := range len(p) {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// isLowerASCIIName reports whether s holds only a-z 0-9 - _ and '.'.
func isLowerASCIIName(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// SameHost reports whether a and b name one host, canonical.
func SameHost(a, b string) bool {
	ca, errA := Canonical(a)
	cb, errB := Canonical(b)
	return errA == nil && errB == nil && ca == cb
}
