package balancer

import (
	"slices"
	"testing"
	"time"
)

// clock is a hand-moved clock for outlier detection.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newTestTable returns a table on a fake clock with the default outlier
// settings, this node in zone a, and peers b1, b2 in zone b and c1 in c.
func newTestTable(t *testing.T) (*table, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	tb := newTable("a", nil, outlierConfig{failures: 3, slow: 2 * time.Second, base: 5 * time.Second, max: 2 * time.Minute})
	tb.now = clk.now
	tb.setPeers([]Peer{
		{ID: "b1", Zone: "b", Node: "n1"},
		{ID: "b2", Zone: "b", Node: "n2"},
		{ID: "c1", Zone: "c", Node: "n3"},
	})
	return tb, clk
}

func fail(tb *table, id string, n int) (ejected time.Duration) {
	for range n {
		ejected = tb.report(id, false, time.Millisecond)
	}
	return ejected
}

// firstPicks returns the peer picked for the nearest zone in n picks.
func firstPicks(tb *table, n int) []string {
	var out []string
	for range n {
		out = append(out, tb.pick()[0].ID)
	}
	return out
}

func TestEqualPeersOfAZoneTakeTurns(t *testing.T) {
	tb, _ := newTestTable(t)
	got := firstPicks(tb, 4)
	slices.Sort(got)
	if !slices.Equal(got, []string{"b1", "b1", "b2", "b2"}) {
		t.Errorf("picks = %v, want b1 and b2 twice each", got)
	}
	if p := tb.pick(); len(p) != 2 || p[1].ID != "c1" {
		t.Errorf("pick = %v, want the next zone's peer second", p)
	}
}

func TestAPeerWithFewerFailuresIsPreferred(t *testing.T) {
	tb, _ := newTestTable(t)
	fail(tb, "b1", 1)
	for _, id := range firstPicks(tb, 4) {
		if id != "b2" {
			t.Fatalf("picked %s, want b2 while b1 has a recent failure", id)
		}
	}
}

func TestConsecutiveFailuresEjectForAGrowingCappedInterval(t *testing.T) {
	tb, clk := newTestTable(t)
	if d := fail(tb, "b1", 2); d != 0 {
		t.Fatalf("ejected after 2 failures for %v", d)
	}
	if d := fail(tb, "b1", 1); d != 5*time.Second {
		t.Fatalf("third failure ejected for %v, want 5s", d)
	}
	for _, id := range firstPicks(tb, 4) {
		if id != "b2" {
			t.Fatalf("picked %s while b1 is ejected", id)
		}
	}
	if s := tb.stats(); s.Ejected != 1 || s.Ejections != 1 {
		t.Errorf("stats: ejected %d, ejections %d, want 1, 1", s.Ejected, s.Ejections)
	}

	clk.advance(5*time.Second - time.Nanosecond)
	if slices.Contains(firstPicks(tb, 4), "b1") {
		t.Fatal("b1 picked before its ejection ended")
	}
	clk.advance(time.Nanosecond)
	if !slices.Contains(firstPicks(tb, 4), "b1") {
		t.Fatal("b1 not picked after its ejection ended")
	}

	// On probation one failure ejects again, each time twice as long, up
	// to the cap.
	for _, want := range []time.Duration{10, 20, 40, 80, 120, 120} {
		want *= time.Second
		d := fail(tb, "b1", 1)
		if d != want {
			t.Fatalf("ejected for %v, want %v", d, want)
		}
		clk.advance(d)
	}
}

func TestAFailureReportedWhileEjectedDoesNotExtendTheEjection(t *testing.T) {
	tb, clk := newTestTable(t)
	fail(tb, "b1", 3)
	clk.advance(time.Second)
	if d := fail(tb, "b1", 5); d != 0 {
		t.Fatalf("late failures ejected again for %v", d)
	}
	clk.advance(4 * time.Second)
	if !slices.Contains(firstPicks(tb, 4), "b1") {
		t.Fatal("b1 not back after its first 5s ejection")
	}
}

func TestASuccessResetsFailuresAndBackoff(t *testing.T) {
	tb, clk := newTestTable(t)
	fail(tb, "b1", 2)
	tb.report("b1", true, time.Millisecond)
	if d := fail(tb, "b1", 2); d != 0 {
		t.Fatalf("ejected for %v: the success should have reset the count", d)
	}

	tb.report("b1", true, time.Millisecond)
	fail(tb, "b1", 3)
	clk.advance(5 * time.Second)
	fail(tb, "b1", 1) // on probation: 10s
	clk.advance(10 * time.Second)
	tb.report("b1", true, time.Millisecond)
	if d := fail(tb, "b1", 1); d != 0 {
		t.Fatalf("one failure after a success ejected for %v", d)
	}
	if d := fail(tb, "b1", 2); d != 5*time.Second {
		t.Fatalf("ejected for %v after a success, want the base 5s again", d)
	}
}

func TestASuccessBringsAnEjectedPeerBack(t *testing.T) {
	tb, _ := newTestTable(t)
	fail(tb, "b1", 3)
	tb.report("b1", true, time.Millisecond)
	if !slices.Contains(firstPicks(tb, 4), "b1") {
		t.Fatal("b1 not picked after a successful probe")
	}
}

func TestASlowSuccessCountsAsAFailure(t *testing.T) {
	tb, _ := newTestTable(t)
	for range 3 {
		tb.report("b1", true, 3*time.Second)
	}
	if s := tb.stats(); s.Ejected != 1 {
		t.Errorf("ejected = %d after 3 slow answers, want 1", s.Ejected)
	}
}

func TestAZoneWhosePeersAreAllEjectedGoesLastButIsNeverDropped(t *testing.T) {
	tb, clk := newTestTable(t)
	if d := fail(tb, "c1", 3); d != 5*time.Second {
		t.Fatalf("c1, failing, ejected for %v, want 5s", d)
	}
	if got := tb.pick(); len(got) != 2 || got[0].Zone != "b" || got[1].ID != "c1" {
		t.Fatalf("pick = %v, want zone b first and the ejected c1 still offered last", ids(got))
	}
	clk.advance(2 * time.Second)
	fail(tb, "b1", 3) // until +7s
	fail(tb, "b2", 3)
	got := tb.pick()
	if len(got) != 2 || got[0].Zone != "b" || got[1].ID != "c1" {
		t.Fatalf("pick = %v, want both zones still offered, in zone order, when all are ejected", ids(got))
	}
	// c1's ejection ends first: its zone is healthy again and goes first.
	clk.advance(3 * time.Second)
	if got := tb.pick(); got[0].ID != "c1" {
		t.Fatalf("pick = %v, want c1 first once it is back and zone b is still ejected", ids(got))
	}
}

func TestAZoneLeftWithOnlyEjectedPeersStillOffersOne(t *testing.T) {
	tb, clk := newTestTable(t)
	tb.setPeers([]Peer{{ID: "b1", Zone: "b"}, {ID: "b2", Zone: "b"}, {ID: "b3", Zone: "b"}, {ID: "c1", Zone: "c"}})
	fail(tb, "b1", 3) // until +5s
	clk.advance(time.Second)
	fail(tb, "b2", 3) // until +6s
	// Discovery drops b3, the only peer of zone b still in.
	tb.setPeers([]Peer{{ID: "b1", Zone: "b"}, {ID: "b2", Zone: "b"}, {ID: "c1", Zone: "c"}})
	got := tb.pick()
	if len(got) != 2 || got[0].ID != "c1" || got[1].ID != "b1" {
		t.Fatalf("pick = %v, want c1 (healthy zone first), then b1 (its ejection ends first) for zone b", ids(got))
	}
}

func TestReportsForUnknownPeersAreIgnored(t *testing.T) {
	tb, _ := newTestTable(t)
	if d := fail(tb, "gone", 10); d != 0 {
		t.Fatalf("unknown peer ejected for %v", d)
	}
	if s := tb.stats(); s.Ejections != 0 || s.Peers["b"] != 2 || s.Peers["c"] != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestAPeerThatLeftAndCameBackStartsAfresh(t *testing.T) {
	tb, _ := newTestTable(t)
	fail(tb, "b1", 3)
	tb.setPeers([]Peer{{ID: "b2", Zone: "b"}, {ID: "c1", Zone: "c"}})
	tb.setPeers([]Peer{{ID: "b1", Zone: "b"}, {ID: "b2", Zone: "b"}, {ID: "c1", Zone: "c"}})
	if s := tb.stats(); s.Ejected != 0 {
		t.Fatalf("ejected = %d after b1 left and came back, want 0", s.Ejected)
	}
}
