package transform

import (
	"net/url"
	"testing"
)

func canonicalOf(t *testing.T, query string) string {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Parse(q, DefaultLimits)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return o.Canonical()
}

func TestBothVocabulariesSpellOneAdjustmentAlike(t *testing.T) {
	for _, pair := range [][2]string{
		{"w=100&sat=-100", "w=100&saturation=0"},
		{"w=100&sat=100", "w=100&saturation=2"},
		{"w=100&brightness=1&contrast=1&gamma=1&saturation=1", "w=100"},
		{"w=100&brightness=0&contrast=0&gamma=0", "w=100"},
		{"w=100&exp=50", "w=100&brightness=2"},
		{"w=100&gam=50", "w=100&gamma=2"},
		{"w=100&con=-50", "w=100&contrast=0.5"},
		{"w=100&sharp=30", "w=100&sharpen=3"},
	} {
		if a, b := canonicalOf(t, pair[0]), canonicalOf(t, pair[1]); a != b {
			t.Errorf("%s -> %q, %s -> %q: want one key", pair[0], a, pair[1], b)
		}
	}
	if a, b := canonicalOf(t, "w=100&sat=-50"), canonicalOf(t, "w=100"); a == b {
		t.Error("sat=-50 shares the plain variant's key")
	}
}

func TestAdjustmentsOutOfRangeOrNotImplementedAreRefusedByName(t *testing.T) {
	for query, param := range map[string]string{
		"bri=101":            "bri",
		"sat=-101":           "sat",
		"brightness=-1":      "brightness",
		"gamma=abc":          "gamma",
		"usm=-20":            "usm",
		"usmrad=2&usm=10":    "usmrad",
		"sharp=10&sharpen=1": "sharp",
		"hue=30":             "hue",
		"exp=NaN":            "exp",
		"contrast=11":        "contrast",
	} {
		q, _ := url.ParseQuery(query)
		_, err := Parse(q, DefaultLimits)
		pe, ok := err.(*Error)
		if !ok || pe.Param != param {
			t.Errorf("%s: %v, want a refusal naming %s", query, err, param)
		}
	}
}
