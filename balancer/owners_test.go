package balancer

import (
	"fmt"
	"testing"
	"time"
)

func zonePeers(zone string, n int) []Peer {
	var out []Peer
	for i := range n {
		out = append(out, Peer{ID: fmt.Sprintf("%s-%d", zone, i), Zone: zone, URL: fmt.Sprintf("http://127.0.0.1:%d", 9000+i)})
	}
	return out
}

func TestEveryNodeOfAZoneRanksAKeyTheSameWay(t *testing.T) {
	peers := zonePeers("a", 4)
	tables := make([]*table, len(peers))
	for i, self := range peers {
		tables[i] = newTable("a", nil, outlierConfig{failures: 3, base: time.Second, max: time.Minute})
		var others []Peer
		for _, p := range peers {
			if p.ID != self.ID {
				others = append(others, p)
			}
		}
		tables[i].setPeers(others)
	}
	for k := range 200 {
		key := fmt.Sprintf("site\x00/photo-%d.jpg", k)
		want := tables[0].owners(peers[0], "a", key)
		if len(want) != len(peers) {
			t.Fatalf("%d members ranked, want %d", len(want), len(peers))
		}
		for i, tb := range tables[1:] {
			got := tb.owners(peers[i+1], "a", key)
			for j := range got {
				if got[j].ID != want[j].ID {
					t.Fatalf("key %q: node %d ranks %v, node 0 ranks %v", key, i+1, ids(got), ids(want))
				}
			}
		}
	}
}

func TestAJoiningOrLeavingNodeMovesOnlyItsShareOfKeys(t *testing.T) {
	const keys = 10000
	four := zonePeers("a", 4)
	five := zonePeers("a", 5)
	owner := func(members []Peer, key string) string {
		return rendezvous(append([]Peer(nil), members...), key)[0].ID
	}
	moved, toNew := 0, 0
	perOwner := map[string]int{}
	for k := range keys {
		key := fmt.Sprintf("k%d", k)
		before, after := owner(four, key), owner(five, key)
		perOwner[before]++
		if before != after {
			moved++
			if after == five[4].ID {
				toNew++
			}
		}
	}
	if moved != toNew {
		t.Errorf("%d keys moved, %d of them to the new node: keys moved between the old nodes", moved, toNew)
	}
	// The new node takes about a fifth.
	if moved < keys/5-keys/25 || moved > keys/5+keys/25 {
		t.Errorf("the fifth node took %d of %d keys, want about %d", moved, keys, keys/5)
	}
	for id, n := range perOwner {
		if n < keys/4-keys/20 || n > keys/4+keys/20 {
			t.Errorf("%s owns %d of %d keys, want about a quarter", id, n, keys)
		}
	}
}

func TestAnEjectedOwnerIsSkippedForTheNextRank(t *testing.T) {
	self := Peer{ID: "a-self", Zone: "a"}
	tb := newTable("a", nil, outlierConfig{failures: 1, base: time.Minute, max: time.Hour})
	tb.setPeers(zonePeers("a", 3))
	var key string
	var ranked []Peer
	for k := 0; ; k++ {
		key = fmt.Sprintf("k%d", k)
		ranked = tb.owners(self, "a", key)
		if ranked[0].ID != self.ID {
			break
		}
	}
	tb.report(ranked[0].ID, false, time.Millisecond)
	after := tb.owners(self, "a", key)
	if len(after) != len(ranked)-1 || after[0].ID != ranked[1].ID {
		t.Fatalf("after ejecting %s: %v, want %v without it", ranked[0].ID, ids(after), ids(ranked))
	}
}

func TestOwnersInAnotherZoneLeaveThisNodeOut(t *testing.T) {
	tb := newTable("a", nil, outlierConfig{failures: 3, base: time.Second, max: time.Minute})
	tb.setPeers(append(zonePeers("a", 2), zonePeers("b", 3)...))
	got := tb.owners(Peer{}, "b", "k")
	if len(got) != 3 {
		t.Fatalf("zone b ranked %v, want its 3 nodes", ids(got))
	}
	for _, p := range got {
		if p.Zone != "b" {
			t.Errorf("%s of zone %s ranked for zone b", p.ID, p.Zone)
		}
	}
	if got := tb.owners(Peer{}, "c", "k"); len(got) != 0 {
		t.Errorf("a zone without nodes ranked %v", ids(got))
	}
}
