package balancer

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"
)

// Purge is one purge that every node of every zone applies: a tenant's
// source, a whole tenant, or (All) everything a node holds.
type Purge struct {
	Tenant string    `json:"tenant,omitempty"`
	Source string    `json:"source,omitempty"`
	All    bool      `json:"all,omitempty"`
	At     time.Time `json:"at"` // when it was asked for, for the lag
	// Replayed marks a purge read from the log when this process started:
	// applied again in case it was missed, not a measure of the lag.
	Replayed bool `json:"-"`
}

// The fleet's purges are a log in Consul KV: one key per purge under
// <service>/purges/, which every node watches with blocking queries and
// applies once each, its own included. Gossip events (consul event) would
// be faster to write but are lost by a node that is away; the log is
// read again by a node that comes back, which applies what it missed.
//
// Entries older than Config.PurgeRetention are deleted by whichever node sees
// them first, and the highest index deleted is kept under the floor key:
// a node that was away for longer than that cannot know what it missed,
// and drops everything it holds instead (All).
const (
	purgesDir = "/purges/"
	floorKey  = "floor"
)

// PublishPurge adds p to the fleet's purge log. Every other node applies
// it within moments through its watch; a node that cannot reach Consul
// now applies it when it can. This node does not: the caller, who has the
// purge at hand, applies it here at once (applying it again once it came
// back through the log would drop what was fetched again meanwhile).
func (b *Balancer) PublishPurge(ctx context.Context, p Purge) error {
	if b == nil {
		return fmt.Errorf("no Consul: the purge reaches this node only")
	}
	if p.At.IsZero() {
		p.At = time.Now()
	}
	value, err := json.Marshal(p)
	if err != nil {
		return err
	}
	key := b.purgePrefix() + fmt.Sprintf("%020d-%s", p.At.UnixNano(), b.cfg.ID)
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if b.cfg.OnPurge != nil { // its watch takes the key out again
		b.published.Store(key, true)
	}
	if _, err := b.client.KV().Put(&api.KVPair{Key: key, Value: value}, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		b.published.Delete(key)
		return fmt.Errorf("writing the purge to Consul KV: %v", err)
	}
	return nil
}

func (b *Balancer) purgePrefix() string { return b.cfg.Service + purgesDir }

// watchPurges applies the fleet's purges as they are published, and the
// ones it missed while Consul could not be reached.
func (b *Balancer) watchPurges() {
	var applied uint64
	first := true
	b.watch("cannot read the fleet's purges from Consul; will apply what was missed when it is back",
		"the fleet's purges are read from Consul again", nil, // logged; not a discovery error
		func(q *api.QueryOptions) (*api.QueryMeta, error) {
			pairs, meta, err := b.client.KV().List(b.purgePrefix(), q)
			if err != nil {
				return nil, err
			}
			log := b.readLog(pairs)
			applied = b.applyPurges(log, applied, first)
			first = false
			b.collectPurges(log)
			return meta, nil
		})
}

// purgeLog is one read of the log: its floor and its purges, oldest
// first, each decoded once.
type purgeLog struct {
	floor   *api.KVPair // nil: nothing collected yet
	entries []logEntry
}

type logEntry struct {
	kv *api.KVPair
	p  Purge
	ok bool // decoded; a malformed entry is never applied
}

func (b *Balancer) readLog(pairs api.KVPairs) purgeLog {
	slices.SortFunc(pairs, func(x, y *api.KVPair) int { return cmp.Compare(x.ModifyIndex, y.ModifyIndex) })
	var log purgeLog
	for _, kv := range pairs {
		if kv.Key == b.purgePrefix()+floorKey {
			log.floor = kv
			continue
		}
		e := logEntry{kv: kv}
		if err := json.Unmarshal(kv.Value, &e.p); err == nil {
			e.ok = true
		} else {
			b.logger.Warn("ignoring a malformed purge in Consul KV", zap.String("key", kv.Key), zap.Error(err))
		}
		log.entries = append(log.entries, e)
	}
	return log
}

// applyPurges hands every purge newer than applied to OnPurge, oldest
// first, and returns the newest index seen. The first read applies every
// purge in the log: a process that just started holds nothing in memory,
// but its disk cache may hold entries purged while it was down. Before
// them, a node that missed purges since collected drops everything.
func (b *Balancer) applyPurges(log purgeLog, applied uint64, first bool) uint64 {
	newest := applied
	if log.floor != nil {
		newest = max(newest, log.floor.ModifyIndex)
		if floor, _ := strconv.ParseUint(string(log.floor.Value), 10, 64); !first && floor > applied {
			b.logger.Warn("this node was away longer than the purge log is kept: dropping everything it holds")
			b.onPurge(Purge{All: true, At: time.Now()})
		}
	}
	for _, e := range log.entries {
		newest = max(newest, e.kv.ModifyIndex)
		if !e.ok || e.kv.ModifyIndex <= applied {
			continue
		}
		if _, ours := b.published.LoadAndDelete(e.kv.Key); ours {
			continue
		}
		p := e.p
		p.Replayed = first
		b.onPurge(p)
	}
	return newest
}

func (b *Balancer) onPurge(p Purge) {
	b.purgesApplied.Add(1)
	if b.cfg.OnPurge != nil {
		b.cfg.OnPurge(p)
	}
}

// collectPurges deletes the entries older than PurgeRetention and raises
// the floor to the highest index of a well-formed entry deleted. Nodes
// race to do it harmlessly:
// each delete and the floor's update are check-and-set.
func (b *Balancer) collectPurges(log purgeLog) {
	var deleted uint64
	for _, e := range log.entries {
		if e.ok && time.Since(e.p.At) < b.cfg.PurgeRetention {
			continue
		}
		ctx, cancel := context.WithTimeout(b.ctx, callTimeout)
		ok, _, err := b.client.KV().DeleteCAS(e.kv, (&api.WriteOptions{}).WithContext(ctx))
		cancel()
		// Only an entry that could be applied raises the floor: a node
		// behind a malformed one would take the floor for purges it
		// missed and drop everything it holds.
		if err == nil && ok && e.ok {
			deleted = max(deleted, e.kv.ModifyIndex)
		}
	}
	if deleted == 0 {
		return
	}
	next := &api.KVPair{Key: b.purgePrefix() + floorKey, Value: []byte(strconv.FormatUint(deleted, 10))}
	if log.floor != nil {
		old, _ := strconv.ParseUint(string(log.floor.Value), 10, 64)
		if old >= deleted {
			return
		}
		next.ModifyIndex = log.floor.ModifyIndex
	}
	ctx, cancel := context.WithTimeout(b.ctx, callTimeout)
	defer cancel()
	if _, _, err := b.client.KV().CAS(next, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		b.logger.Debug("raising the purge log's floor", zap.Error(err))
	}
}
