package balancer

import (
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/serf/coordinate"
)

// unknownRTT marks a distance the coordinates cannot tell.
const unknownRTT time.Duration = -1

// distance estimates the round-trip time from self to node, or unknownRTT
// when either coordinate is missing, invalid or from another segment.
func distance(self *coordinate.Coordinate, coords map[string]*coordinate.Coordinate, node string) time.Duration {
	c := coords[node]
	if self == nil || c == nil || !self.IsValid() || !c.IsValid() || !self.IsCompatibleWith(c) {
		return unknownRTT
	}
	return self.DistanceTo(c)
}

// median returns the median of ds, which it sorts.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

// rankZones orders the zones other than own that have peers: the zones in
// prefs first, in that order; then the others by the median RTT from self
// to their peers' nodes, nearest first; then the zones whose distance is
// unknown; ties by name. It also returns the median RTT of every zone
// whose distance is known.
func rankZones(own string, zones map[string][]Peer, self *coordinate.Coordinate,
	coords map[string]*coordinate.Coordinate, prefs []string) ([]string, map[string]time.Duration) {
	rtt := make(map[string]time.Duration)
	var order []string
	for zone, peers := range zones {
		if len(peers) == 0 {
			continue
		}
		var ds []time.Duration
		for _, p := range peers {
			if d := distance(self, coords, p.Node); d != unknownRTT {
				ds = append(ds, d)
			}
		}
		if len(ds) > 0 {
			rtt[zone] = median(ds)
		}
		if zone != own {
			order = append(order, zone)
		}
	}
	rank := func(zone string) (preferred int, d time.Duration) {
		preferred = slices.Index(prefs, zone)
		if preferred < 0 {
			preferred = len(prefs)
		}
		d, ok := rtt[zone]
		if !ok {
			d = unknownRTT
		}
		return preferred, d
	}
	sort.Slice(order, func(i, j int) bool {
		pi, di := rank(order[i])
		pj, dj := rank(order[j])
		switch {
		case pi != pj:
			return pi < pj
		case di != dj && (di == unknownRTT || dj == unknownRTT):
			return dj == unknownRTT
		case di != dj:
			return di < dj
		}
		return order[i] < order[j]
	})
	return order, rtt
}
