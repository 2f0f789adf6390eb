package metering

import (
	"errors"
	"testing"
	"time"
)

func TestRecordFramesDecodeToWhatWasRecorded(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 59, 999999999, time.UTC)
	for _, tt := range []struct {
		name string
		r    Record
		sums *recordSums
	}{
		{"a cache hit", Record{Tenant: "acme", Time: at, Status: 200, CacheStatus: "hit", OutputBytes: 512,
			OutputPixels: 100 * 80, Wall: 40 * time.Microsecond, Zone: "eu-1", Node: "edge-1"}, nil},
		{"a forwarded miss", Record{Tenant: "beta.example.net", Time: at, Status: 502, CacheStatus: "miss",
			SourceBytes: 1 << 40, OutputBytes: 1, CPU: time.Hour, Wall: 2 * time.Hour, Forwarded: true}, nil},
		{"empty strings and a time before 1970", Record{Time: time.Unix(-61, 5)}, nil},
		{"usage summed in memory", Record{Tenant: "acme", Time: at.Truncate(time.Minute), Status: 404,
			CacheStatus: "hit", SourceBytes: 7, OutputBytes: 8, OutputPixels: 9, CPU: 10, Wall: 11},
			&recordSums{requests: 1 << 33, hits: 5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			frame := appendRecordFrame([]byte("prefix"), &tt.r, tt.sums)[len("prefix"):]
			kind, body, size, err := readFrame(frame)
			if err != nil || size != len(frame) {
				t.Fatalf("readFrame: size %d of %d, %v", size, len(frame), err)
			}
			var d decodedRecord
			if err := decodeRecord(kind, body, &d); err != nil {
				t.Fatal(err)
			}
			r := tt.r
			want := recordSums{requests: 1}
			if r.CacheStatus == cacheHit {
				want.hits = 1
			}
			if tt.sums != nil {
				want = *tt.sums
			}
			if string(d.tenant) != r.Tenant || string(d.cache) != r.CacheStatus || string(d.zone) != r.Zone ||
				string(d.node) != r.Node || d.status != r.Status || d.forwarded != r.Forwarded ||
				d.time != r.Time.UnixNano() || d.sourceBytes != r.SourceBytes || d.outputBytes != r.OutputBytes ||
				d.outputPixels != r.OutputPixels || d.cpuNs != int64(r.CPU) || d.wallNs != int64(r.Wall) ||
				d.recordSums != want {
				t.Fatalf("decoded %+v from %+v", d, r)
			}
		})
	}
}

func TestDecodeRecordRefusesMalformedBodies(t *testing.T) {
	r := Record{Tenant: "acme", Time: time.Unix(1e9, 0), Status: 200, CacheStatus: "hit", Zone: "z", Node: "n"}
	frame := appendRecordFrame(nil, &r, nil)
	body := frame[frameHeader+1:]
	for _, tt := range []struct {
		name string
		kind byte
		body []byte
	}{
		{"an empty body", kindRecord, nil},
		{"a body cut in its strings", kindRecord, body[:4]},
		{"a body cut in its numbers", kindRecord, body[:len(body)-1]},
		{"a string longer than the body", kindRecord, append([]byte{0, 200, 1, 100}, body[4:]...)},
		{"bytes after the last field", kindRecord, append(append([]byte(nil), body...), 0)},
		{"a sum record without its sums", kindSums, body},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var d decodedRecord
			if err := decodeRecord(tt.kind, tt.body, &d); !errors.Is(err, errBadRecord) {
				t.Fatalf("err = %v, want errBadRecord", err)
			}
		})
	}
}

func TestMinuteOf(t *testing.T) {
	for _, tt := range []struct{ in, want int64 }{
		{0, 0},
		{int64(time.Minute) - 1, 0},
		{int64(time.Minute), int64(time.Minute)},
		{-1, -int64(time.Minute)},
		{-int64(time.Minute), -int64(time.Minute)},
	} {
		if got := minuteOf(tt.in); got != tt.want {
			t.Errorf("minuteOf(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
