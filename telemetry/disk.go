package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imgedge/imgedge/cache"
)

// diskCollector exports the disk tiers' figures, summed over the live
// tiers of the process (one per directory).
type diskCollector struct {
	each                                                                   func(func(cache.DiskStats))
	hits, misses, written, writeErrors, dropped, evictions, corrupt, bytes *prometheus.Desc
	entries, indexed                                                       *prometheus.Desc
}

func newDiskCollector(each func(func(cache.DiskStats))) *diskCollector {
	d := named("imgedge_disk_")
	return &diskCollector{
		each:        each,
		hits:        d("hits_total", "Entries read from the disk tier after a memory miss."),
		misses:      d("misses_total", "Memory misses the disk tier did not have either (or had expired, purged or corrupt)."),
		written:     d("written_total", "Entries written to the disk tier."),
		writeErrors: d("write_errors_total", "Entries the disk tier failed to write (a full or failing disk): served from memory."),
		dropped:     d("dropped_writes_total", "Entries not written because the disk could not keep up."),
		evictions:   d("evictions_total", "Entries evicted to keep the disk tier within its size."),
		corrupt:     d("corrupt_total", "Entries dropped because they failed their length or checksum (never served)."),
		bytes:       d("bytes", "Bytes the disk tier's entries take on disk, as indexed."),
		entries:     d("entries", "Entries indexed in the disk tier."),
		indexed:     d("indexed", "1 once the start-up scan has indexed the disk tier."),
	}
}

func (c *diskCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, c.hits, c.misses, c.written, c.writeErrors, c.dropped, c.evictions, c.corrupt, c.bytes, c.entries, c.indexed)
}

func (c *diskCollector) Collect(ch chan<- prometheus.Metric) {
	var sum cache.DiskStats
	indexed := int64(1)
	c.each(func(st cache.DiskStats) {
		sum.Hits += st.Hits
		sum.Misses += st.Misses
		sum.Written += st.Written
		sum.WriteErrors += st.WriteErrors
		sum.Dropped += st.Dropped
		sum.Evictions += st.Evictions
		sum.Corrupt += st.Corrupt
		sum.Bytes += st.Bytes
		sum.Entries += st.Entries
		if !st.Indexed {
			indexed = 0
		}
	})
	counter(ch, c.hits, sum.Hits)
	counter(ch, c.misses, sum.Misses)
	counter(ch, c.written, sum.Written)
	counter(ch, c.writeErrors, sum.WriteErrors)
	counter(ch, c.dropped, sum.Dropped)
	counter(ch, c.evictions, sum.Evictions)
	counter(ch, c.corrupt, sum.Corrupt)
	gauge(ch, c.bytes, sum.Bytes)
	gauge(ch, c.entries, int64(sum.Entries))
	gauge(ch, c.indexed, indexed)
}
