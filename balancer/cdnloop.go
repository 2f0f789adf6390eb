package balancer

import "strings"

// HasLoop tells whether the CDN-Loop header value (RFC 8586) already holds
// an entry for token, that is whether the request has passed through us.
// Values of several CDN-Loop header lines may be joined with commas first.
// Identifiers match case-insensitively, and parameters on either side are
// ignored: "imgedge; zone=a" in the header matches the token "imgedge".
func HasLoop(header, token string) bool {
	return len(LoopHops(header, token)) > 0
}

// Hop kinds, the hop parameter of imgedge's CDN-Loop entry: a request
// one node of a zone asks the key's owner (HopOwner), or a zone asks its
// shield zone for an original (HopShield). A zone's overflow to another
// zone carries the entry without a hop parameter.
const (
	HopOwner  = "owner"
	HopShield = "shield"
)

// LoopHops returns the hop parameter of every entry for token in the
// CDN-Loop header value, in order: "" for an entry without one.
func LoopHops(header, token string) []string {
	id := cdnID(token)
	if id == "" {
		return nil
	}
	var hops []string
	for _, entry := range splitList(header) {
		if !strings.EqualFold(cdnID(entry), id) {
			continue
		}
		hop := ""
		params := strings.Split(entry, ";")[1:]
		for _, p := range params {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "hop") {
				hop = strings.ToLower(strings.Trim(v, `"`))
			}
		}
		hops = append(hops, hop)
	}
	return hops
}

// AppendLoop returns the CDN-Loop header value with token, an identifier
// with optional parameters such as "imgedge; zone=a", added at the end.
func AppendLoop(header, token string) string {
	header = strings.TrimRight(strings.TrimSpace(header), ",")
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		return header
	case header == "":
		return token
	}
	return header + ", " + token
}

// cdnID returns the cdn-id of one cdn-info: the part before any
// parameters, without surrounding whitespace.
func cdnID(info string) string {
	if i := strings.IndexByte(info, ';'); i >= 0 {
		info = info[:i]
	}
	return strings.TrimSpace(info)
}

// splitList splits a comma-separated header value into its elements,
// leaving commas inside quoted strings (parameter values) alone.
func splitList(v string) []string {
	var out []string
	start, quoted, escaped := 0, false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}
