// Package metering records the usage of answered image requests, keeps it in
// a durable local spool and ships it, summed, to a central collector, which
// deduplicates and stores it and answers usage queries.
//
// # Edge side
//
// [Meter.Record] is on the request path, so it does as little as it can:
// it encodes the record in a compact binary form into a stack buffer, frames
// it ([length][crc32c][payload]) and, under the meter's mutex, copies it into
// the open journal segment, a file preallocated to Config.BatchBytes and
// mapped shared and writable. A store to a shared file mapping is in the page
// cache at once, and the page cache survives a process kill, so once Record
// returns the record survives kill -9; there is no system call and no
// allocation per record. Where a segment cannot be mapped, records are
// written to it with pwrite(2) instead.
//
// A sealer goroutine seals a segment on a time, count or size boundary: it
// unmaps it, cuts its unused tail and fsyncs it; from then on it is immutable
// and is one batch. The shipper folds a sealed segment into rollup events,
// one per group of records with the same tenant, minute, zone, node, cache
// status, status and forwarding, each with the sums of requests, hits, source
// and output bytes, pixels, CPU and wall time. A rollup's event id is the
// segment id and a digest of its group, so aggregating the segment again gives
// the same ids, and the collector, which keys events by (source, id), counts
// a re-sent batch once. The shipper POSTs the events as a CloudEvents 1.0 JSON
// batch and deletes the file only after a 2xx; network errors, 401, 403
// (credentials to fix), 408, 429 and 5xx are retried with exponential backoff
// and full jitter (Retry-After honoured); any other 4xx moves the file to
// Dir/rejected/. Deleting the file is the acknowledgement. Events of an
// acknowledged batch that the collector refused one by one (its answer's
// "refused" list) are logged and written to Dir/rejected/ as
// <segment>.<part>.refused.json.
//
// The collector refuses an event whose data is past a per-event maximum
// (MaxEventRequests, MaxEventBytes, MaxEventPixels, MaxEventMillis,
// MaxStatus), so the edge never sends one: a rollup over a maximum is sent
// as several events (ids <rollup id>.1, .2, ...) that each fit and add up
// to it, negative record values count as 0, and a status past MaxStatus is
// sent as 0. A POST holds at most a thousand events.
//
// Rollups carry the start of their minute as event time, so usage queries
// give the same totals as per-request events would whenever the step is a
// whole number of minutes and from and to are on minute boundaries (finer
// queries see each minute's usage at its start).
//
// On start-up every segment is recovered: its frames are read up to the first
// zero length or bad checksum (the unwritten, preallocated rest, or a frame
// torn by a crash), the rest is cut, and the segment is fsynced and shipped.
// Segment ids never change and are never reused (see below), so a segment
// shipped again after a crash is counted once.
//
// When the spool is over its size cap, or the disk refuses a write, records
// are summed in memory by the same groups as the rollups and written to the
// journal as sum records when there is room again.
//
// # Collector side
//
// [Collector] is an http.Handler that ingests event batches (rollups from the
// edge, and per-request events, as an OpenMeter-style producer might send)
// into a [Store] (SQLite or PostgreSQL) idempotently and answers usage
// queries. Usage sums cannot overflow: integer columns are summed in 21-bit
// limbs and joined in Go, and a total past the int64 range is answered as
// the largest int64 with the bucket marked "saturated".
//
// # On-disk layout
//
//	Dir/LOCK                         flock held by the owning process
//	Dir/seg-<start>-<run>-<seq>.jnl  journal segments, oldest first
//	Dir/rejected/seg-*.jnl           batches the collector refused (kept)
//	Dir/rejected/seg-*.refused.json  events the collector refused one by one
//
// A segment's id, the part of its name between "seg-" and ".jnl", is the
// start time of the Meter that created it (Unix milliseconds, 12 hex digits),
// 64 random bits drawn at that start (16 hex digits) and a sequence number
// (8 hex digits). Ids sort by age, and no id is used twice, even after every
// segment was shipped and deleted or the directory was restored from a copy.
//
// A frame is a little-endian uint32 payload length, a little-endian uint32
// CRC-32C (Castagnoli) of the payload, and the payload. The payload's first
// byte is its kind: 'R', one request record, or 'A', usage summed in memory;
// their layout is described in record.go. Segments written by versions
// before the binary journal (seg-<16 hex digits>.jnl, 'E' frames holding the
// JSON of one request CloudEvent, 'S' seal frames) are still read and
// shipped as they are.
package metering
