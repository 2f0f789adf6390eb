package balancer

import "strings"

// CDN-Loop (RFC 8586) is kept for what the RFC makes it: loop detection
// across CDNs. Every node that sends a request on appends its own entry
// (LoopToken) on a header line of its own; a client's entries are kept and
// passed on, but nothing a node decides rests on them. What kind of hop a
// request is travels in HopHeader, which only a node can set (see
// Peering).

// LoopToken is imgedge's cdn-id in CDN-Loop.
const LoopToken = "imgedge"

// LoopCount is how many entries of the CDN-Loop header lines name token
// (case-insensitively, parameters ignored). Each line is read on its own,
// so a malformed line cannot hide the lines after it; within a line, an
// entry that does not parse ends at the next comma (see splitList).
func LoopCount(lines []string, token string) int {
	n := 0
	for _, line := range lines {
		for _, entry := range splitList(line) {
			if strings.EqualFold(cdnID(entry), token) {
				n++
			}
		}
	}
	return n
}

// cdnID returns the cdn-id of one cdn-info: the part before any
// parameters, without surrounding whitespace.
func cdnID(info string) string {
	if i := strings.IndexByte(info, ';'); i >= 0 {
		info = info[:i]
	}
	return strings.TrimSpace(info)
}

// splitList splits one comma-separated header line into its non-empty
// elements, leaving commas inside quoted strings (parameter values) alone.
// A quote that is never closed, or whose closing quote is escaped away by
// a backslash, does not open a quoted string: it is taken as a plain
// character, so the element it stands in ends at the next comma instead of
// swallowing every element after it.
func splitList(v string) []string {
	var out []string
	add := func(e string) {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			if end := closingQuote(v, i); end > 0 {
				i = end
			}
		case ',':
			add(v[start:i])
			start = i + 1
		}
	}
	add(v[start:])
	return out
}

// closingQuote returns the index of the quote that closes the quoted
// string opened at v[open], honouring backslash escapes, or -1 when the
// line ends first.
func closingQuote(v string, open int) int {
	for j := open + 1; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++ // the escaped character, whatever it is
		case '"':
			return j
		}
	}
	return -1
}
