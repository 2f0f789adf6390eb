package balancer

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/serf/coordinate"
)

// outlierConfig tunes passive outlier detection.
type outlierConfig struct {
	failures  int           // consecutive failures that eject
	slow      time.Duration // a success slower than this is a failure; 0: off
	base, max time.Duration // first and longest ejection
}

// health is what outlier detection knows about one peer.
type health struct {
	failures  int       // consecutive failures since the last success or ejection
	ejections int       // ejections since the last success; sets the next interval
	until     time.Time // ejected until then
	probation bool      // ejected before and no success since: one failure ejects again
}

// table holds the known peers, the zone order and the peers' health. The
// discovery goroutines write it, requests read it.
type table struct {
	now   func() time.Time // injected in tests
	own   string
	prefs []string
	oc    outlierConfig

	mu        sync.Mutex
	peers     []Peer // as Consul sorted them, nearest to the agent first
	selfNode  string
	coords    map[string]*coordinate.Coordinate
	zones     map[string][]Peer // by zone, nearest peer first
	rtts      map[string]time.Duration
	order     []string                 // other zones, nearest first
	zoneRTT   map[string]time.Duration // median per zone, when known
	health    map[string]*health       // by peer ID
	turn      int                      // rotates between equally good peers
	ejections uint64
}

func newTable(own string, prefs []string, oc outlierConfig) *table {
	return &table{
		now:    time.Now,
		own:    own,
		prefs:  prefs,
		oc:     oc,
		health: make(map[string]*health),
	}
}

// setPeers replaces the known peers. Peers that left lose their health
// record; a peer that comes back starts afresh.
func (t *table) setPeers(peers []Peer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.peers = peers
	ids := make(map[string]bool, len(peers))
	for _, p := range peers {
		ids[p.ID] = true
	}
	maps.DeleteFunc(t.health, func(id string, _ *health) bool { return !ids[id] })
	t.rank()
}

// setCoordinates replaces the network coordinates of the nodes, selfNode
// being the node this balancer's agent runs on.
func (t *table) setCoordinates(selfNode string, coords map[string]*coordinate.Coordinate) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.selfNode, t.coords = selfNode, coords
	t.rank()
}

// rank regroups the peers by zone, nearest peer first, and orders the
// zones. Callers hold mu.
func (t *table) rank() {
	self := t.coords[t.selfNode]
	t.zones = make(map[string][]Peer)
	t.rtts = make(map[string]time.Duration, len(t.peers))
	for _, p := range t.peers {
		t.zones[p.Zone] = append(t.zones[p.Zone], p)
		t.rtts[p.ID] = distance(self, t.coords, p.Node)
	}
	for _, peers := range t.zones {
		// Stable: Consul's own order decides between unknown distances.
		slices.SortStableFunc(peers, func(a, b Peer) int { return compareRTT(t.rtts[a.ID], t.rtts[b.ID]) })
	}
	t.order, t.zoneRTT = rankZones(t.own, t.zones, self, t.coords, t.prefs)
}

// compareRTT orders known distances before unknown ones.
func compareRTT(a, b time.Duration) int {
	switch {
	case a == b:
		return 0
	case a == unknownRTT:
		return 1
	case b == unknownRTT:
		return -1
	case a < b:
		return -1
	}
	return 1
}

// pick returns the best peer of every other zone, nearest zone first.
func (t *table) pick() []Peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	out := make([]Peer, 0, len(t.order))
	var demoted []Peer
	for _, zone := range t.order {
		p, ok := t.best(t.zones[zone], now)
		switch {
		case !ok:
		case t.ejected(p.ID, now):
			// Every peer of the zone is ejected: the zone is never dropped,
			// but comes after every zone that has a healthy peer.
			demoted = append(demoted, p)
		default:
			out = append(out, p)
		}
	}
	t.turn++
	return append(out, demoted...)
}

// ejected tells whether a peer is ejected now. Callers hold mu.
func (t *table) ejected(id string, now time.Time) bool {
	h := t.health[id]
	return h != nil && h.until.After(now)
}

// best returns the peer to use among peers (one zone, nearest first): of
// those not ejected, the fewest recent failures, then the nearest, taking
// turns between equals. If every peer is ejected, which outlier detection
// avoids but discovery can cause, the one whose ejection ends first.
// Callers hold mu.
func (t *table) best(peers []Peer, now time.Time) (Peer, bool) {
	var in []Peer
	var soonest Peer
	var soonestUntil time.Time
	for _, p := range peers {
		h := t.health[p.ID]
		if h == nil || !h.until.After(now) {
			in = append(in, p)
		} else if soonestUntil.IsZero() || h.until.Before(soonestUntil) {
			soonest, soonestUntil = p, h.until
		}
	}
	if len(in) == 0 {
		return soonest, !soonestUntil.IsZero()
	}
	failures := func(p Peer) int {
		if h := t.health[p.ID]; h != nil {
			return h.failures
		}
		return 0
	}
	// Stable, so the nearest comes first among equal failure counts.
	slices.SortStableFunc(in, func(a, b Peer) int { return failures(a) - failures(b) })
	equal := 1
	for equal < len(in) && failures(in[equal]) == failures(in[0]) && t.rtts[in[equal].ID] == t.rtts[in[0].ID] {
		equal++
	}
	return in[t.turn%equal], true
}

// report records the outcome of a forward to the peer with this ID and
// returns how long the peer is now ejected for, 0 if it is not.
func (t *table) report(id string, ok bool, took time.Duration) time.Duration {
	if ok && t.oc.slow > 0 && took > t.oc.slow {
		ok = false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, known := t.zoneOf(id); !known {
		return 0
	}
	h := t.health[id]
	if h == nil {
		h = new(health)
		t.health[id] = h
	}
	if ok {
		*h = health{}
		return 0
	}
	now := t.now()
	if h.until.After(now) {
		return 0 // a late answer from before the ejection
	}
	h.failures++
	if h.failures < t.oc.failures && !h.probation {
		return 0
	}
	d := t.oc.base
	for i := 0; i < h.ejections && d < t.oc.max; i++ {
		d *= 2
	}
	d = min(d, t.oc.max)
	h.ejections++
	h.failures = 0
	h.until = now.Add(d)
	h.probation = true
	t.ejections++
	return d
}

// zoneOf returns the zone of a known peer. Callers hold mu.
func (t *table) zoneOf(id string) (string, bool) {
	for _, p := range t.peers {
		if p.ID == id {
			return p.Zone, true
		}
	}
	return "", false
}

// all returns every known peer, own zone first, then the other zones
// nearest first.
func (t *table) all() []Peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.zones[t.own])
	for _, zone := range t.order {
		out = append(out, t.zones[zone]...)
	}
	return out
}

// stats fills the table's part of Stats.
func (t *table) stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Stats{
		Peers:     make(map[string]int, len(t.zones)),
		Zones:     slices.Clone(t.order),
		RTT:       maps.Clone(t.zoneRTT),
		Ejections: t.ejections,
	}
	for zone, peers := range t.zones {
		s.Peers[zone] = len(peers)
	}
	now := t.now()
	for _, h := range t.health {
		if h.until.After(now) {
			s.Ejected++
		}
	}
	return s
}
