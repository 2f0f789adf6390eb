package metering

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// The most one usage event may carry in each field of its data. The
// collector refuses an event past any of them, naming the field, so that a
// producer cannot make the stored sums meaningless; the usage queries
// saturate what is left (see [Bucket.Saturated]).
//
// They are far above what one node sends: an edge's rollup covers one
// tenant, minute, zone, node, cache status, status and forwarding, and even
// a node answering ten million requests a second sends 6·10⁸ requests in a
// minute. An edge whose rollup is over a maximum all the same (usage summed
// in memory for a long time, a Record with absurd values) sends it as
// several events that each fit, with the same totals.
const (
	// MaxEventRequests bounds data.requests and data.hits: 10¹².
	MaxEventRequests = 1_000_000_000_000
	// MaxEventBytes bounds data.source_bytes and data.output_bytes: 10¹⁵
	// bytes, one petabyte.
	MaxEventBytes = 1_000_000_000_000_000
	// MaxEventPixels bounds data.output_pixels: 10¹⁵.
	MaxEventPixels = 1_000_000_000_000_000
	// MaxEventMillis bounds data.cpu_ms and data.wall_ms: 10¹² ms, about
	// 31.7 years.
	MaxEventMillis = 1_000_000_000_000
	// MaxStatus bounds data.status: HTTP statuses have three digits; 0
	// means unknown.
	MaxStatus = 999
)

// maxEventNanos is MaxEventMillis in nanoseconds, as the edge sums CPU and
// wall time.
const maxEventNanos = MaxEventMillis * 1_000_000

// dataLimit is the range of one numeric field of an event's data.
type dataLimit struct {
	name  string // the JSON name, under "data."
	max   float64
	float bool // a number, not an integer
}

// dataLimits are the numeric fields of EventData and their maxima. Every
// numeric field is listed: decodeEvent refuses an event outside them.
var dataLimits = []dataLimit{
	{name: "status", max: MaxStatus},
	{name: "source_bytes", max: MaxEventBytes},
	{name: "output_bytes", max: MaxEventBytes},
	{name: "output_pixels", max: MaxEventPixels},
	{name: "cpu_ms", max: MaxEventMillis, float: true},
	{name: "wall_ms", max: MaxEventMillis, float: true},
	{name: "requests", max: MaxEventRequests},
	{name: "hits", max: MaxEventRequests},
}

// dataValues are d's numeric fields in the order of dataLimits.
func dataValues(d *EventData) []float64 {
	return []float64{
		float64(d.Status), float64(d.SourceBytes), float64(d.OutputBytes), float64(d.OutputPixels),
		d.CPUMillis, d.WallMillis, float64(d.Requests), float64(d.Hits),
	}
}

// want says what the field accepts.
func (l dataLimit) want() string {
	kind := "an integer"
	if l.float {
		kind = "a number"
	}
	return fmt.Sprintf("%s from 0 to %s", kind, strconv.FormatFloat(l.max, 'f', -1, 64))
}

// checkLimits refuses d when a numeric field is out of its range. Every
// maximum is below 2⁵³, so comparing as float64 is exact at the bound.
func checkLimits(d *EventData) error {
	for i, v := range dataValues(d) {
		l := dataLimits[i]
		switch {
		case v < 0:
			return fmt.Errorf("data.%s is negative: want %s", l.name, l.want())
		case v > l.max:
			return fmt.Errorf("data.%s is over the maximum per event: want %s", l.name, l.want())
		}
	}
	return nil
}

// maxQuoted bounds how much of a bad value a refusal quotes.
const maxQuoted = 40

// dataError says what is wrong with data that did not decode, naming the
// field: a number that is no integer or too large for one (1.5, 1e30,
// 18446744073709551616), or a value of the wrong JSON type.
func dataError(err error) error {
	te, ok := errors.AsType[*json.UnmarshalTypeError](err)
	if !ok || te.Field == "" {
		return fmt.Errorf("bad data: %v", err)
	}
	value := truncate(te.Value, maxQuoted)
	for _, l := range dataLimits {
		if l.name == te.Field {
			return fmt.Errorf("bad data: data.%s is %s: want %s", te.Field, value, l.want())
		}
	}
	return fmt.Errorf("bad data: data.%s is %s: want a %s", te.Field, value, te.Type)
}

// satAdd is a + b, held at the int64 range instead of wrapping.
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// Integer sums are queried as three sums of 21-bit limbs of each value
// (bits 42 and up, 21 to 41, 0 to 20), so that no SQL sum can overflow
// before 2⁴² rows of one bucket, more than either database can hold; the
// limbs are joined here, and a total past the int64 range is held at it.
const limbBits = 21

// limbSums is the SQL of the three limb sums of the integer column col.
func limbSums(col string) string {
	const mask = 1<<limbBits - 1
	return fmt.Sprintf("CAST(SUM(%[1]s >> %[2]d) AS BIGINT), CAST(SUM((%[1]s >> %[3]d) & %[4]d) AS BIGINT), CAST(SUM(%[1]s & %[4]d) AS BIGINT)",
		col, 2*limbBits, limbBits, mask)
}

// joinLimbs is hi·2⁴² + mid·2²¹ + lo, and whether it had to be held at
// the int64 range.
func joinLimbs(hi, mid, lo int64) (int64, bool) {
	if 0 <= hi && hi < 1<<20 && 0 <= mid && mid < 1<<40 && 0 <= lo && lo < 1<<61 {
		return hi<<(2*limbBits) + mid<<limbBits + lo, false // under 2⁶² + 2⁶¹ + 2⁶¹
	}
	var t, x big.Int
	t.Lsh(x.SetInt64(hi), 2*limbBits)
	t.Add(&t, x.Lsh(x.SetInt64(mid), limbBits))
	t.Add(&t, x.SetInt64(lo))
	switch {
	case t.IsInt64():
		return t.Int64(), false
	case t.Sign() > 0:
		return math.MaxInt64, true
	default:
		return math.MinInt64, true
	}
}

// clampedMillis is the SQL of a double column's value held at
// MaxEventMillis, for rows stored before the collector bounded events.
func clampedMillis(col string) string {
	max := strconv.FormatFloat(MaxEventMillis, 'e', -1, 64)
	return fmt.Sprintf("CASE WHEN %[1]s > %[2]s THEN %[2]s ELSE %[1]s END", col, max)
}
