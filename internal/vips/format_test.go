package vips

import (
	"testing"

	"github.com/imgedge/imgedge/transform"
)

// Every format transform can ask for has an encoder of its own, and no two
// share one.
func TestEveryWritableFormatMapsToItsOwnEncoder(t *testing.T) {
	seen := map[int]transform.Format{}
	for f := transform.Format(0); f < 32; f++ {
		c, ok := encoderID(f)
		if ok != f.Writable() {
			t.Errorf("%s: encoder %v, writable %v", f, ok, f.Writable())
		}
		if !ok {
			continue
		}
		if other, dup := seen[c]; dup {
			t.Errorf("%s and %s map to one encoder", f, other)
		}
		seen[c] = f
	}
}
