package balancer

import (
	"strings"
	"testing"
)

func TestHasLoop(t *testing.T) {
	tests := []struct {
		name   string
		header string
		token  string
		want   bool
	}{
		{"an empty header has no loop", "", "imgedge", false},
		{"the token alone is a loop", "imgedge", "imgedge", true},
		{"the token matches case-insensitively", "ImgEdge", "imgedge", true},
		{"the token matches among others", "foo, imgedge, bar.example:8080", "imgedge", true},
		{"parameters in the header are ignored", "foo; a=1, imgedge; zone=a", "imgedge", true},
		{"parameters in the token are ignored", "imgedge", "imgedge; zone=b", true},
		{"whitespace around entries is ignored", "  foo ,\timgedge  ;zone=a", "imgedge", true},
		{"a longer name is not the token", "imgedge2, my-imgedge", "imgedge", false},
		{"a host with a port is matched whole", "cdn.example:443", "cdn.example", false},
		{"a host with a port matches itself", "CDN.example:443; x=y", "cdn.example:443", true},
		{"the token inside a quoted parameter is not an entry", `foo; note="a, imgedge"`, "imgedge", false},
		{"escaped quotes do not end a quoted parameter", `foo; note="\", imgedge", bar`, "imgedge", false},
		{"entries after a quoted parameter are seen", `foo; note="a, b", imgedge`, "imgedge", true},
		{"an empty token never loops", "imgedge, ,", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasLoop(tt.header, tt.token); got != tt.want {
				t.Errorf("HasLoop(%q, %q) = %v, want %v", tt.header, tt.token, got, tt.want)
			}
		})
	}
}

func TestAppendLoop(t *testing.T) {
	tests := []struct {
		name, header, token, want string
	}{
		{"the first entry stands alone", "", "imgedge; zone=a", "imgedge; zone=a"},
		{"later entries are appended with a comma", "cdn.example", "imgedge; zone=a", "cdn.example, imgedge; zone=a"},
		{"a trailing comma is not doubled", "cdn.example, ", "imgedge", "cdn.example, imgedge"},
		{"an empty token leaves the header alone", "cdn.example", " ", "cdn.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendLoop(tt.header, tt.token)
			if got != tt.want {
				t.Errorf("AppendLoop(%q, %q) = %q, want %q", tt.header, tt.token, got, tt.want)
			}
			if tt.token != " " && !HasLoop(got, tt.token) {
				t.Errorf("HasLoop(AppendLoop(...)) = false for %q", got)
			}
		})
	}
}

func TestLoopHopsNameEachImgedgeEntrysHop(t *testing.T) {
	for _, c := range []struct {
		header string
		want   []string
	}{
		{"", nil},
		{"other", nil},
		{"imgedge", []string{""}},
		{"imgedge; hop=owner", []string{"owner"}},
		{`other, IMGEDGE; hop="Shield", imgedge`, []string{"shield", ""}},
		{"imgedge; zone=a; hop=owner, imgedge", []string{"owner", ""}},
	} {
		got := LoopHops(c.header, LoopToken)
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("LoopHops(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}
