package cache

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// diskCache opens a disk tier in dir and a cache over it; closing the
// cache closes the tier too, as a process that stops.
type tieredCache struct {
	*Cache
	disk *Disk
}

func (c tieredCache) Close() { c.Cache.Close(); c.disk.Close() }

func diskCache(t *testing.T, dir string, diskBytes int64) tieredCache {
	t.Helper()
	d, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: diskBytes})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{MaxBytes: 8 << 20, Disk: d})
	if err != nil {
		t.Fatal(err)
	}
	tc := tieredCache{c, d}
	t.Cleanup(tc.Close)
	return tc
}

// waitWritten waits until the disk tier has written n entries in all.
func waitWritten(t *testing.T, c tieredCache, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.disk.Stats().Written+c.disk.Stats().WriteErrors < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d entries written after 10s", c.disk.Stats().Written, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitIndexed(t *testing.T, c tieredCache) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !c.disk.Stats().Indexed {
		if time.Now().After(deadline) {
			t.Fatal("the disk tier was not indexed after 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// entryPath is where the variant key's entry lives in a tier in dir.
func entryPath(dir, key string) string {
	return filepath.Join(dir, (&diskSpace{dir: "v"}).pathOf(key))
}

func photoEntry(i, size int, tags ...string) *Entry {
	body := bytes.Repeat([]byte{byte(i)}, size)
	return &Entry{Body: body, Header: http.Header{"Content-Type": {"image/webp"}, "Etag": {fmt.Sprintf(`"%d"`, i)}},
		Width: 400 + i, Height: 300, Tags: tags}
}

func TestTheDiskTierOutlivesTheProcess(t *testing.T) {
	dir := t.TempDir()
	c := diskCache(t, dir, 64<<20)
	want := photoEntry(7, 50<<10, "src:t|/a.jpg", "tenant:t")
	c.Set("k", want)
	c.SetOriginal("o", photoEntry(8, 200<<10, "src:t|/a.jpg"))
	waitWritten(t, c, 2)
	c.Close()

	again := diskCache(t, dir, 64<<20)
	got, ok := again.Get("k")
	if !ok || !bytes.Equal(got.Body, want.Body) || got.Header.Get("Etag") != `"7"` || got.Width != 407 || got.Height != 300 ||
		len(got.Tags) != 2 {
		t.Fatalf("after a restart: %v %+v", ok, got)
	}
	if _, ok := again.GetOriginal("o"); !ok {
		t.Error("the original did not outlive the restart")
	}
	if st := again.Stats(); again.disk.Stats().Hits != 2 || st.Hits != 0 {
		t.Errorf("disk hits %d, memory hits %d: want both read from disk", again.disk.Stats().Hits, st.Hits)
	}
	if _, ok := again.Get("k"); !ok || again.Stats().Hits != 1 {
		t.Errorf("a second read: want it from memory, where the first promoted it (memory hits %d)", again.Stats().Hits)
	}
	waitIndexed(t, again)
	if st := again.disk.Stats(); st.Entries != 2 {
		t.Errorf("%d entries indexed, want 2", st.Entries)
	}
}

func TestAPurgeBeforeARestartIsNotUndone(t *testing.T) {
	dir := t.TempDir()
	c := diskCache(t, dir, 64<<20)
	c.Set("a", photoEntry(1, 1000, "src:t|/a.jpg"))
	c.Set("b", photoEntry(2, 1000, "src:t|/b.jpg"))
	waitWritten(t, c, 2)
	c.Close()
	// Purged right after a restart, before the index knows the files.
	mid := diskCache(t, dir, 64<<20)
	mid.Purge("src:t|/a.jpg")
	mid.Close()
	again := diskCache(t, dir, 64<<20)
	if _, ok := again.Get("a"); ok {
		t.Error("a purged entry came back after the restart")
	}
	if _, ok := again.Get("b"); !ok {
		t.Error("an entry the purge did not name is gone")
	}
	// An entry written after a purge of its tag lives.
	again.Set("a", photoEntry(3, 1000, "src:t|/a.jpg"))
	waitWritten(t, again, 1)
	again.Close()
	last := diskCache(t, dir, 64<<20)
	if e, ok := last.Get("a"); !ok || e.Body[0] != 3 {
		t.Error("an entry written after the purge was taken for purged")
	}
}

func TestATruncatedOrAlteredEntryIsNeverServed(t *testing.T) {
	dir := t.TempDir()
	c := diskCache(t, dir, 64<<20)
	for i := range 3 {
		c.Set(fmt.Sprint(i), photoEntry(i, 20<<10))
	}
	waitWritten(t, c, 3)
	c.Close()
	cut := entryPath(dir, "0")
	b, _ := os.ReadFile(cut)
	if err := os.WriteFile(cut, b[:len(b)/2], 0o640); err != nil {
		t.Fatal(err)
	}
	flipped := entryPath(dir, "1")
	b, _ = os.ReadFile(flipped)
	b[len(b)-10] ^= 0xff
	if err := os.WriteFile(flipped, b, 0o640); err != nil {
		t.Fatal(err)
	}
	again := diskCache(t, dir, 64<<20)
	for _, k := range []string{"0", "1"} {
		if _, ok := again.Get(k); ok {
			t.Errorf("entry %s, damaged on disk, was served", k)
		}
	}
	if _, ok := again.Get("2"); !ok {
		t.Error("an intact entry was not served")
	}
	if _, err := os.Stat(cut); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the truncated file is still there")
	}
	if n := again.disk.Stats().Corrupt; n < 2 {
		t.Errorf("%d corrupt entries counted, want 2", n)
	}
}

// du is what the directory's files take on disk.
func du(t *testing.T, dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			if info, err := de.Info(); err == nil {
				n += onDisk(info)
			}
		}
		return nil
	})
	return n
}

func TestTheDiskTierStaysWithinItsBudget(t *testing.T) {
	dir := t.TempDir()
	const budget = 4 << 20
	c := diskCache(t, dir, budget)
	waitIndexed(t, c)
	for i := range 60 {
		c.Set(fmt.Sprint(i), photoEntry(i, 200<<10))
		waitWritten(t, c, uint64(i+1)) // one at a time: nothing dropped from the queue
	}
	st := c.disk.Stats()
	if st.Bytes > budget || st.Evictions == 0 {
		t.Errorf("indexed %d bytes for a budget of %d, %d evictions", st.Bytes, budget, st.Evictions)
	}
	if got := du(t, filepath.Join(dir, "v")) + du(t, filepath.Join(dir, "o")); got > budget {
		t.Errorf("the tier's files take %d bytes on disk, over its budget of %d", got, budget)
	}
	// The most recent are kept, the oldest gone.
	if _, ok := c.Get("59"); !ok {
		t.Error("the newest entry was evicted")
	}
	c.Close()
	if _, ok := diskCache(t, dir, budget).Get("0"); ok {
		t.Error("the oldest entry survived eviction")
	}
}

func TestASecondProcessCannotTakeTheDirectory(t *testing.T) {
	dir := t.TempDir()
	diskCache(t, dir, 1<<20)
	if _, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: 1 << 20}); !errors.Is(err, ErrDiskInUse) {
		t.Errorf("a second tier on the directory: %v, want ErrDiskInUse", err)
	}
}

func TestAnUnusableDirectoryIsAnErrorThatIsNotInUse(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := OpenDisk(DiskConfig{Dir: filepath.Join(file, "cache"), MaxBytes: 1 << 20})
	if err == nil || errors.Is(err, ErrDiskInUse) {
		t.Errorf("an unusable directory: %v, want an error (the caller serves from memory)", err)
	}
}

func TestATierAwayTooLongStartsEmpty(t *testing.T) {
	dir := t.TempDir()
	c := diskCache(t, dir, 1<<20)
	c.Set("k", photoEntry(1, 100))
	waitWritten(t, c, 1)
	c.Close()
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "alive"), old, old); err != nil {
		t.Fatal(err)
	}
	if _, ok := diskCache(t, dir, 1<<20).Get("k"); ok {
		t.Error("an entry of a tier away for two hours (it missed the fleet's purges) was served")
	}
}

func TestAnEntryTooLargeForItsSpaceIsNotWrittenAndEvictsNothing(t *testing.T) {
	dir := t.TempDir()
	c := diskCache(t, dir, 4<<20) // variants: 3 MiB
	for i := range 5 {
		c.Set(fmt.Sprint(i), photoEntry(i, 100<<10))
	}
	waitWritten(t, c, 5)
	c.Set("huge", photoEntry(9, 3<<20))
	deadline := time.Now().Add(5 * time.Second)
	for c.disk.Stats().Dropped == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := c.disk.Stats(); st.Dropped != 1 || st.Evictions != 0 || st.Entries != 5 {
		t.Errorf("after a 3 MiB entry: dropped %d, evictions %d, entries %d; want it refused and the 5 others kept", st.Dropped, st.Evictions, st.Entries)
	}
}

func TestAPurgeOfATagWithANewlineSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	tag := "src:t|/a\nb.jpg"
	c := diskCache(t, dir, 1<<20)
	c.Set("k", photoEntry(1, 100, tag))
	c.Set("other", photoEntry(2, 100, "src:t|/a"))
	waitWritten(t, c, 2)
	c.Purge(tag)
	c.Close()
	again := diskCache(t, dir, 1<<20)
	if _, ok := again.Get("k"); ok {
		t.Error("the purged entry is back after the restart")
	}
	if _, ok := again.Get("other"); !ok {
		t.Error("the purge of a tag with a newline purged another tag")
	}
}

func TestAReadRacingAPurgeNeverLeavesThePurgedEntryInMemory(t *testing.T) {
	dir := t.TempDir()
	c := diskCache(t, dir, 64<<20)
	const n = 200
	for i := range n {
		c.Set(fmt.Sprint(i), photoEntry(i, 500, "src:t|/a.jpg"))
	}
	waitWritten(t, c, n)
	c.Close()
	again := diskCache(t, dir, 64<<20) // nothing in memory: reads go to disk
	done := make(chan struct{})
	go func() {
		for i := range n {
			again.Get(fmt.Sprint(i))
		}
		close(done)
	}()
	again.Purge("src:t|/a.jpg")
	<-done
	for i := range n {
		if _, ok := again.Get(fmt.Sprint(i)); ok {
			t.Fatalf("entry %d was served after the purge returned", i)
		}
	}
}
