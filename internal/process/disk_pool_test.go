package process

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Two spellings of one directory are one disk tier: the second must not
// find the directory's lock held by this very process.
func TestOneDiskTierWhateverTheSpellingOfItsDirectory(t *testing.T) {
	dir := t.TempDir()
	unusable := prometheus.NewGauge(prometheus.GaugeOpts{Name: "unusable"})
	k1, d1, err := LoadDisk(dir, 1<<20, zap.NewNop(), unusable)
	if err != nil {
		t.Fatal(err)
	}
	defer DiskTiers.Delete(k1)
	k2, d2, err := LoadDisk(dir+"/./", 1<<20, zap.NewNop(), unusable)
	if err != nil {
		t.Fatalf("the same directory written %q: %v", dir+"/./", err)
	}
	defer DiskTiers.Delete(k2)
	if k1 != k2 || d1 != d2 || d1 == nil {
		t.Errorf("keys %q and %q, tiers %p and %p: want one tier", k1, k2, d1, d2)
	}
}
