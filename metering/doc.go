// Package metering records the usage of answered image requests, keeps it in
// a durable local spool and ships it in batches to a central collector, which
// deduplicates and stores it and answers usage queries.
//
// # Edge side
//
// [Meter.Record] encodes one record as a CloudEvent with a fresh UUIDv7 event
// id, frames it ([length][crc32c][payload]) and appends it to the open journal
// segment with a single write(2). There is no fsync on that path: the page
// cache survives a process kill, so every answered request is counted even
// after kill -9. A sealer goroutine closes a segment on a time, count or size
// boundary: it appends a seal frame carrying a fresh batch id, fsyncs the file
// and hands it to the shipper. The shipper POSTs each sealed segment as a
// CloudEvents 1.0 JSON batch and deletes the file only after a 2xx; network
// errors, 408, 429 and 5xx are retried with exponential backoff and full
// jitter (Retry-After honoured); any other 4xx moves the file to
// Dir/rejected/. One segment is one batch, so deleting the file is the
// acknowledgement.
//
// On start-up every segment is scanned: a torn tail is cut back to the last
// valid frame, a segment without a seal frame is sealed, and everything left
// on disk is shipped again. Event ids never change, so the collector counts a
// re-sent event once.
//
// When the spool is over its size cap, or the disk refuses a write, records
// are summed in memory per tenant and hour and written to the journal later as
// rollup events, when there is room again.
//
// # Collector side
//
// [Collector] is an http.Handler that ingests event batches into a [Store]
// (SQLite or PostgreSQL) idempotently and answers usage queries.
//
// # On-disk layout
//
//	Dir/LOCK                       flock held by the owning process
//	Dir/seg-<16 hex digits>.jnl    journal segments, oldest first
//	Dir/rejected/seg-*.jnl         batches the collector refused (kept)
//
// A frame is a little-endian uint32 payload length, a little-endian uint32
// CRC-32C (Castagnoli) of the payload, and the payload. The payload's first
// byte is its kind: 'E' followed by the JSON of one CloudEvent (without the
// batch id), or 'S' followed by the JSON {"batch":"<uuid>","count":<n>} that
// seals the segment.
package metering
