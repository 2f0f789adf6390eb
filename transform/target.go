package transform

import (
	"errors"
	"net/url"
	"strings"
)

// CheckPath refuses request targets an image request must not have: an
// opaque or non-path target ("GET http:@10.0.0.1/x"), a path with dot
// segments or empty segments (escaped or not), an escaped slash, or a
// control character. What is left names one resource in one spelling: signatures
// and cache keys take the path as the URL spells it, so "/a!b" and
// "/a%21b", which an origin may tell apart, stay apart.
func CheckPath(u *url.URL) error {
	switch {
	case u.Opaque != "" || !strings.HasPrefix(u.Path, "/"):
		return errors.New("the request target must be an absolute path")
	case strings.Contains(u.Path, "//"):
		return errors.New("the path has an empty segment (//)")
	case hasDotSegment(u.Path):
		return errors.New("the path has a . or .. segment")
	case strings.Contains(strings.ToLower(u.RawPath), "%2f"):
		return errors.New("the path has an escaped slash (%2F)")
	case strings.ContainsFunc(u.Path, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("the path has a control character")
	}
	return nil
}

func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
