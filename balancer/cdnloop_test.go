package balancer

import (
	"strings"
	"testing"
)

func TestSplitListReadsEveryWellFormedEntry(t *testing.T) {
	for _, c := range []struct {
		name, line string
		want       []string
	}{
		{"an empty line has no entries", "", nil},
		{"one entry", "imgedge", []string{"imgedge"}},
		{"entries and parameters", "foo; a=1, imgedge;hop=owner", []string{"foo; a=1", "imgedge;hop=owner"}},
		{"a comma in a quoted string stays in its entry", `foo; p="a, b", imgedge`, []string{`foo; p="a, b"`, "imgedge"}},
		{"an escaped quote stays in the quoted string", `foo; p="a\", b", imgedge`, []string{`foo; p="a\", b"`, "imgedge"}},
		{"an escaped backslash ends in a closing quote", `foo; p="a\\", imgedge`, []string{`foo; p="a\\"`, "imgedge"}},
		{"empty members are skipped", ", ,foo,,  ,imgedge,", []string{"foo", "imgedge"}},
		{"an unterminated quote ends its entry at the next comma", `x; p=", imgedge`, []string{`x; p="`, "imgedge"}},
		{"a trailing backslash in a quote does not swallow the rest", `foo; a="\, imgedge`, []string{`foo; a="\`, "imgedge"}},
		{"a quote closed by an escaped quote only is unterminated", `x; p="\", imgedge, other`, []string{`x; p="\"`, "imgedge", "other"}},
		{"a lone quote", `", imgedge`, []string{`"`, "imgedge"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := splitList(c.line)
			if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
				t.Errorf("splitList(%q) = %q, want %q", c.line, got, c.want)
			}
		})
	}
}

func TestLoopCountSeesEveryNodesEntryWhateverTheClientSent(t *testing.T) {
	hostile := []string{`x; p="`, `foo; a="\`, `"`, `a="b\"`, "\"\\", `;;;=""=`}
	for _, client := range hostile {
		t.Run("after "+client, func(t *testing.T) {
			// As nodes send it: the client's line, then one line a node.
			if n := LoopCount([]string{client, LoopToken, LoopToken}, LoopToken); n != 2 {
				t.Errorf("separate lines: counted %d imgedge entries, want 2", n)
			}
			// As a proxy in between might join them into one line.
			if n := LoopCount([]string{client + ", " + LoopToken + ", IMGEDGE; zone=a"}, LoopToken); n != 2 {
				t.Errorf("one joined line: counted %d imgedge entries, want 2", n)
			}
		})
	}
}

func TestLoopCountMatchesTheCDNIDOnly(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  int
	}{
		{nil, 0},
		{[]string{"other"}, 0},
		{[]string{"imgedgex, ximgedge, other; imgedge"}, 0},
		{[]string{`other; p="imgedge, imgedge"`}, 0},
		{[]string{" IMGEDGE ; hop=owner", "imgedge"}, 2},
	} {
		if got := LoopCount(c.lines, LoopToken); got != c.want {
			t.Errorf("LoopCount(%q) = %d, want %d", c.lines, got, c.want)
		}
	}
}

func TestAThousandEntriesAreAllRead(t *testing.T) {
	entries := make([]string, 1000)
	for i := range entries {
		entries[i] = "cdn" + strings.Repeat("x", i%7) + `; p="a, \"b\""`
		if i%10 == 0 {
			entries[i] = LoopToken
		}
	}
	line := strings.Join(entries, ", ")
	if got := splitList(line); len(got) != 1000 {
		t.Fatalf("read %d entries of 1000", len(got))
	}
	if n := LoopCount([]string{line}, LoopToken); n != 100 {
		t.Errorf("counted %d imgedge entries, want 100", n)
	}
}

// FuzzSplitList: whatever a client writes before it, an entry a node
// appends on its own line, or after a comma, is always read.
func FuzzSplitList(f *testing.F) {
	for _, s := range []string{`x; p="`, `foo; a="\`, `a, "b, c"`, `""""`, "\\\\\"", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, client string) {
		if n := LoopCount([]string{client + ", " + LoopToken}, LoopToken); n < 1 {
			t.Fatalf("the entry after %q on its line was not read", client)
		}
		if n := LoopCount([]string{client, LoopToken}, LoopToken); n < 1 {
			t.Fatalf("the node's own line after %q was not read", client)
		}
	})
}
