package balancer

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/serf/coordinate"
	"go.uber.org/zap"
)

// discover watches the passing instances of the service with blocking
// queries, nearest to the agent first, and hands them to the table. While
// Consul cannot be reached the table keeps the last known peers.
func (b *Balancer) discover() {
	b.watch("cannot reach Consul for discovery; keeping the last known peers", "discovery reaches Consul again", &b.discoveryErrors,
		func(q *api.QueryOptions) (*api.QueryMeta, error) {
			q.Near = "_agent"
			entries, meta, err := b.client.Health().Service(b.cfg.Service, "", true, q)
			if err != nil {
				return nil, err
			}
			b.table.setPeers(b.peersFrom(entries))
			select {
			case b.refresh <- struct{}{}:
			default:
			}
			return meta, nil
		})
}

// watch runs query as a blocking query, again and again, until the
// balancer closes: query handles each answer itself. A failure is
// counted in failures (when given), logged once (down, then up when
// Consul answers again) and retried with a growing pause.
func (b *Balancer) watch(down, up string, failures *atomic.Uint64, query func(q *api.QueryOptions) (*api.QueryMeta, error)) {
	var index uint64
	var pause time.Duration
	failing := false
	for {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: waitTime}).WithContext(b.ctx)
		meta, err := query(q)
		if b.ctx.Err() != nil {
			return
		}
		if err != nil {
			if failures != nil {
				failures.Add(1)
			}
			if !failing {
				b.logger.Warn(down, zap.Error(err))
			}
			failing = true
			// A restarted Consul counts its index from scratch: blocking on
			// our old, higher index would stall until WaitTime.
			index = 0
			pause = backoff(pause)
			if !b.sleep(pause) {
				return
			}
			continue
		}
		if failing {
			b.logger.Info(up)
			failing = false
		}
		pause = 0
		switch {
		case meta.LastIndex == 0:
			// Never block on 0; pause so a broken index cannot spin.
			index = 0
			if !b.sleep(retryMin) {
				return
			}
		case meta.LastIndex < index:
			index = 0 // the index went backwards: start over
		default:
			index = meta.LastIndex
		}
	}
}

// peersFrom turns Consul's entries into peers, leaving out this node and
// instances without a zone.
func (b *Balancer) peersFrom(entries []*api.ServiceEntry) []Peer {
	peers := make([]Peer, 0, len(entries))
	for _, e := range entries {
		s := e.Service
		if s == nil || s.ID == b.cfg.ID || s.Meta["zone"] == "" || s.Port <= 0 {
			continue
		}
		addr := s.Address
		var node string
		if e.Node != nil {
			node = e.Node.Node
			if addr == "" {
				addr = e.Node.Address
			}
		}
		if addr == "" {
			continue
		}
		scheme := s.Meta["scheme"]
		if scheme != "https" {
			scheme = "http"
		}
		peers = append(peers, Peer{
			ID:   s.ID,
			Zone: s.Meta["zone"],
			Node: node,
			URL:  scheme + "://" + net.JoinHostPort(addr, strconv.Itoa(s.Port)),
		})
	}
	return peers
}

// coordinates reads the nodes' network coordinates every
// CoordinateInterval and after each discovery change, so the table can
// rank zones by distance.
func (b *Balancer) coordinates() {
	ticker := time.NewTicker(b.cfg.CoordinateInterval)
	defer ticker.Stop()
	var self string
	for {
		if err := b.readCoordinates(&self); err != nil && b.ctx.Err() == nil {
			b.discoveryErrors.Add(1)
			b.logger.Debug("reading network coordinates", zap.Error(err))
		}
		select {
		case <-b.ctx.Done():
			return
		case <-ticker.C:
		case <-b.refresh:
		}
	}
}

// readCoordinates learns this agent's node name (once, from our own check)
// and reads every node's coordinate.
func (b *Balancer) readCoordinates(self *string) error {
	ctx, cancel := context.WithTimeout(b.ctx, callTimeout)
	defer cancel()
	q := (&api.QueryOptions{}).WithContext(ctx)
	if *self == "" {
		checks, err := b.client.Agent().ChecksWithFilterOpts("", q)
		if err != nil {
			return err
		}
		c := checks[b.checkID]
		if c == nil {
			return nil // not registered yet; the next refresh tries again
		}
		*self = c.Node
	}
	entries, _, err := b.client.Coordinate().Nodes(q)
	if err != nil {
		return err
	}
	coords := make(map[string]*coordinate.Coordinate, len(entries))
	for _, e := range entries {
		if e.Coord != nil && e.Segment == "" {
			coords[e.Node] = e.Coord
		}
	}
	b.table.setCoordinates(*self, coords)
	return nil
}
