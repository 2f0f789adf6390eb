package balancer

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/serf/coordinate"
)

// at returns a coordinate x milliseconds along the first axis, with no
// height or adjustment, so distances are plain differences.
func at(ms float64) *coordinate.Coordinate {
	c := coordinate.NewCoordinate(coordinate.DefaultConfig())
	c.Vec[0] = ms / 1000
	c.Height = 0
	return c
}

// zoneFixture: this node in zone a at 0ms; zone b's nodes at 10, 12 and
// 100ms (median 12ms); zone c's at 5, 50 and 60ms (median 50ms, though it
// has the single nearest node); zone d's node has no coordinate.
func zoneFixture() (map[string][]Peer, map[string]*coordinate.Coordinate) {
	zones := map[string][]Peer{
		"a": {{ID: "a2", Zone: "a", Node: "na2"}},
		"b": {{ID: "b1", Zone: "b", Node: "nb1"}, {ID: "b2", Zone: "b", Node: "nb2"}, {ID: "b3", Zone: "b", Node: "nb3"}},
		"c": {{ID: "c1", Zone: "c", Node: "nc1"}, {ID: "c2", Zone: "c", Node: "nc2"}, {ID: "c3", Zone: "c", Node: "nc3"}},
		"d": {{ID: "d1", Zone: "d", Node: "nd1"}},
	}
	coords := map[string]*coordinate.Coordinate{
		"self": at(0), "na2": at(1),
		"nb1": at(10), "nb2": at(12), "nb3": at(100),
		"nc1": at(5), "nc2": at(50), "nc3": at(60),
	}
	return zones, coords
}

func TestRankZones(t *testing.T) {
	zones, coords := zoneFixture()
	other := at(0)
	other.Vec = other.Vec[:3] // another dimensionality: not comparable
	tests := []struct {
		name   string
		prefs  []string
		coords map[string]*coordinate.Coordinate
		want   []string
	}{
		{"zones are ordered by the median RTT to their nodes, unknown last", nil, coords, []string{"b", "c", "d"}},
		{"a preference list wins over the coordinates", []string{"c"}, coords, []string{"c", "b", "d"}},
		{"a full preference list decides alone", []string{"d", "c", "b"}, coords, []string{"d", "c", "b"}},
		{"preferred zones without peers are left out", []string{"x", "d"}, coords, []string{"d", "b", "c"}},
		{"without coordinates zones are ordered by name", nil, nil, []string{"b", "c", "d"}},
		{"incompatible coordinates count as unknown", nil, map[string]*coordinate.Coordinate{"self": other, "nc1": at(5)}, []string{"b", "c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := rankZones("a", zones, tt.coords["self"], tt.coords, tt.prefs)
			if !slices.Equal(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRankZonesReportsMedianRTT(t *testing.T) {
	zones, coords := zoneFixture()
	_, rtt := rankZones("a", zones, coords["self"], coords, nil)
	want := map[string]time.Duration{"a": time.Millisecond, "b": 12 * time.Millisecond, "c": 50 * time.Millisecond}
	if len(rtt) != len(want) {
		t.Fatalf("rtt = %v, want %v", rtt, want)
	}
	for zone, d := range want {
		if got := rtt[zone]; (got - d).Abs() > time.Microsecond {
			t.Errorf("rtt[%s] = %v, want %v", zone, got, d)
		}
	}
}

func TestMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo(t *testing.T) {
	if got := median([]time.Duration{40, 10, 20, 30}); got != 25 {
		t.Errorf("median = %v, want 25", got)
	}
}

func TestPickFollowsTheZoneOrderAndPrefersTheNearestPeer(t *testing.T) {
	zones, coords := zoneFixture()
	tb := newTable("a", nil, outlierConfig{failures: 3, base: 5 * time.Second, max: 2 * time.Minute})
	var peers []Peer
	for _, z := range []string{"d", "c", "b", "a"} {
		peers = append(peers, zones[z]...)
	}
	tb.setPeers(peers)
	tb.setCoordinates("self", coords)
	if got := ids(tb.pick()); !slices.Equal(got, []string{"b1", "c1", "d1"}) {
		t.Errorf("pick = %v, want [b1 c1 d1]", got)
	}
	tb.setCoordinates("self", map[string]*coordinate.Coordinate{"self": at(0), "nb2": at(3), "nc2": at(40), "nd1": at(1)})
	if got := ids(tb.pick()); !slices.Equal(got, []string{"d1", "b2", "c2"}) {
		t.Errorf("after new coordinates pick = %v, want [d1 b2 c2]", got)
	}
	if got := ids(tb.all()); got[0] != "a2" || len(got) != len(peers) {
		t.Errorf("all = %v, want own zone first and every peer", got)
	}
}

func ids(peers []Peer) []string {
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = p.ID
	}
	return out
}
