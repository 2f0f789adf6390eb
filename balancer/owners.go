package balancer

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Owners ranks the nodes of this node's zone for key, this node included:
// the first is the key's owner, the others take over in that order when
// it cannot answer. The ranking is rendezvous (highest random weight)
// hashing over the zone's passing nodes, as Caddy's hostByHashing does:
// every node of the zone that knows the same members ranks a key the same
// way, and a node joining or leaving moves only the keys it owns or comes
// to own. Ejected peers are left out. With no peers (or a nil Balancer)
// the list is this node alone.
//
// Membership is the discovery watch's: when Consul cannot be reached the
// last known members keep their keys.
func (b *Balancer) Owners(key string) []Peer {
	if b == nil {
		return nil
	}
	return b.table.owners(b.Self(), b.cfg.Zone, key)
}

// OwnersIn ranks the nodes of another zone for key, as that zone's own
// nodes rank them (see Owners): a node of zone asked first holds the key
// there. It is empty when zone has no passing node.
func (b *Balancer) OwnersIn(zone, key string) []Peer {
	if b == nil || zone == b.cfg.Zone {
		return nil
	}
	return b.table.owners(Peer{}, zone, key)
}

// Self is this node as its peers see it.
func (b *Balancer) Self() Peer {
	if b == nil {
		return Peer{}
	}
	return Peer{ID: b.cfg.ID, Zone: b.cfg.Zone, URL: b.scheme + "://" + net.JoinHostPort(b.host, strconv.Itoa(b.port))}
}

// owners ranks zone's peers, and self when it has an ID, for key,
// leaving out the ejected.
func (t *table) owners(self Peer, zone, key string) []Peer {
	t.mu.Lock()
	now := t.now()
	members := make([]Peer, 0, len(t.zones[zone])+1)
	for _, p := range t.zones[zone] {
		if !t.ejected(p.ID, now) {
			members = append(members, p)
		}
	}
	t.mu.Unlock()
	if self.ID != "" {
		members = append(members, self)
	}
	return rendezvous(members, key)
}

// rendezvous orders members by the weight of key on each, highest first;
// ties, which take a 64-bit collision, by ID.
func rendezvous(members []Peer, key string) []Peer {
	weights := make(map[string]uint64, len(members))
	for _, p := range members {
		weights[p.ID] = weight(p.ID, key)
	}
	slices.SortFunc(members, func(a, b Peer) int {
		wa, wb := weights[a.ID], weights[b.ID]
		switch {
		case wa > wb:
			return -1
		case wa < wb:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return members
}

// weight is key's random weight on the member with this ID: the member
// and the key hashed together.
func weight(id, key string) uint64 {
	d := xxhash.New()
	_, _ = d.WriteString(id)
	_, _ = d.WriteString("\x00")
	_, _ = d.WriteString(key)
	return d.Sum64()
}
