package cache

import (
	"fmt"
	"testing"
)

func TestAKeyIsHotOnItsThirdTouch(t *testing.T) {
	var h Heat
	for i := 1; i <= 4; i++ {
		if got, want := h.Touch("k"), i >= 3; got != want {
			t.Errorf("touch %d: hot = %v, want %v", i, got, want)
		}
	}
}

func TestColdKeysStayColdAndHeatFadesWithTime(t *testing.T) {
	var h Heat
	h.Touch("once")
	h.Touch("once")
	// Two windows of other, single touches: the counters are halved twice.
	for i := range 2 * heatWindow {
		h.Touch(fmt.Sprintf("cold-%d", i))
	}
	if h.Touch("once") {
		t.Errorf("a key touched twice a window ago is hot at its next touch")
	}
	hot := 0
	for i := range 1000 {
		if h.Touch(fmt.Sprintf("cold-x-%d", i)) {
			hot++
		}
	}
	if hot > 50 {
		t.Errorf("%d of 1000 keys touched once each count as hot", hot)
	}
}
