package imgedge_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/imgedge/imgedge/internal/testenv"
)

// TestTheDiskDirectoryIsTheNodesOwn plants files in a node's cache_disk
// directory while it is stopped, as someone else with access to it would:
// links to a file outside it, entries that say text/html and set a
// cookie. None is followed or served. A link at the lock, or a directory
// others may write, leaves the node serving from memory.
func TestTheDiskDirectoryIsTheNodesOwn(t *testing.T) {
	dir := t.TempDir()
	c := diskSite(t, dir, "64MiB")
	var urls []string
	for i := range 3 {
		urls = append(urls, fmt.Sprintf("%s/p%d.jpg?w=%d&f=webp", c.Base, i, 200+100*i))
	}
	for _, u := range urls {
		if a := get(t, u); a.status != 200 {
			t.Fatalf("%s: %d %s", u, a.status, a.body)
		}
	}
	waitDiskWritten(t, c, float64(3*len(urls))) // each variant, its source's info, its original
	c.Stop()

	p := newPrecious(t)
	variants := variantFiles(t, dir)
	if len(variants) != len(urls) {
		t.Fatalf("%d variants on disk, want %d", len(variants), len(urls))
	}
	for i, path := range variants {
		e := readDiskEntry(t, path)
		e.header = http.Header{"Content-Type": {"text/html"}, "Set-Cookie": {"session=planted"}}
		e.body = []byte("<script>alert(1)</script>")
		switch i % 3 {
		case 0:
			plantSymlink(t, path, p.file)
		case 1:
			plantFile(t, path, e.encode("IED1")) // the release before's format, its checksum valid
		case 2:
			plantFile(t, path, e.encode("IED2")) // a MAC made without the directory's secret
		}
	}
	plantSymlink(t, filepath.Join(dir, "purges.new"), p.file)
	plantSymlink(t, filepath.Join(dir, "alive"), p.file)
	plantSymlink(t, filepath.Join(dir, "tmp"), p.dir)

	c.Restart()
	for _, u := range urls {
		a := get(t, u)
		if a.status != 200 || a.header.Get("Content-Type") != "image/webp" || a.header.Values("Set-Cookie") != nil ||
			bytes.Contains(a.body, []byte("<script>")) {
			t.Errorf("%s after planting: %d, %q, Set-Cookie %q; want the variant made again", u, a.status,
				a.header.Get("Content-Type"), a.header.Values("Set-Cookie"))
			continue
		}
		decode(t, a.body)
	}
	if n := metric(t, c, "imgedge_resize_total"); n != float64(len(urls)) {
		t.Errorf("%v resizes, want %d: every planted variant made again", n, len(urls))
	}
	if n := metric(t, c, "imgedge_disk_corrupt_total"); n < float64(len(urls)) {
		t.Errorf("%v entries dropped as failing their check, want the %d planted", n, len(urls))
	}
	if n := metric(t, c, "imgedge_disk_unusable"); n != 0 {
		t.Errorf("imgedge_disk_unusable %v: the planted files must not cost the node its disk tier", n)
	}
	waitDiskWritten(t, c, float64(len(urls)))
	c.Stop()
	p.check(t)

	t.Run("a link at the lock", func(t *testing.T) {
		lock := filepath.Join(dir, "LOCK")
		plantSymlink(t, lock, p.file)
		c.Restart()
		servesFromMemoryOnly(t, c, urls[0])
		c.Stop()
		p.check(t)
		if err := os.Remove(lock); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a directory others may write", func(t *testing.T) {
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		c.Restart()
		servesFromMemoryOnly(t, c, urls[0])
		c.Stop()
	})

	t.Run("a directory owned by another user", func(t *testing.T) {
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatalf("giving the directory to uid 65534 (the test runs as root): %v", err)
		}
		c.Restart()
		servesFromMemoryOnly(t, c, urls[0])
		c.Stop()
	})

	t.Run("the node's own again", func(t *testing.T) {
		if err := os.Chown(dir, os.Geteuid(), os.Getegid()); err != nil {
			t.Fatal(err)
		}
		c.Restart()
		a := get(t, urls[0])
		if a.status != 200 || !strings.Contains(a.header.Get("Cache-Status"), "detail=disk") || metric(t, c, "imgedge_disk_unusable") != 0 {
			t.Errorf("%d, Cache-Status %q, imgedge_disk_unusable %v: want the variant remade after planting served from disk",
				a.status, a.header.Get("Cache-Status"), metric(t, c, "imgedge_disk_unusable"))
		}
	})
}

// servesFromMemoryOnly checks that the node says its disk tier cannot be
// used, and answers u all the same: from memory the second time.
func servesFromMemoryOnly(t *testing.T, c *testenv.Caddy, u string) {
	t.Helper()
	var a answer
	for range 2 {
		if a = get(t, u); a.status != 200 {
			t.Fatalf("%s: %d %s", u, a.status, a.body)
		}
	}
	if cs := a.header.Get("Cache-Status"); metric(t, c, "imgedge_disk_unusable") != 1 || !strings.HasPrefix(cs, "imgedge; hit") ||
		strings.Contains(cs, "detail=disk") {
		t.Errorf("imgedge_disk_unusable %v, the second answer %q: want the disk tier refused and memory serving",
			metric(t, c, "imgedge_disk_unusable"), cs)
	}
}

// precious is a file outside the disk directory, in a directory of its
// own, that links planted in it name; check says whether both are as
// they were.
type precious struct {
	dir, file string
	info      fs.FileInfo
}

func newPrecious(t *testing.T) *precious {
	t.Helper()
	p := &precious{dir: t.TempDir()}
	p.file = filepath.Join(p.dir, "precious")
	if err := os.WriteFile(p.file, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(p.file, old, old); err != nil {
		t.Fatal(err)
	}
	p.info, _ = os.Stat(p.file)
	return p
}

func (p *precious) check(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(p.file)
	info, _ := os.Stat(p.file)
	names, _ := os.ReadDir(p.dir)
	if err != nil || string(b) != "precious\n" || info.Mode() != p.info.Mode() || !info.ModTime().Equal(p.info.ModTime()) || len(names) != 1 {
		t.Errorf("the file outside the disk directory changed: %q %v, mode %v, time %v, %d files beside it; want it untouched",
			b, err, info.Mode(), info.ModTime(), len(names))
	}
}

func plantSymlink(t *testing.T, path, target string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

func plantFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// diskEntry is an entry file of the disk tier taken apart, as
// cache/diskfile.go lays it out: a head (magic, payload length, then an
// xxhash in the release before, a MAC since), and the payload.
type diskEntry struct {
	times  []byte // written, expires, width, height
	key    []byte
	tags   []byte
	header http.Header
	body   []byte
}

const diskEntryHead = 40

func readDiskEntry(t *testing.T, path string) *diskEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < diskEntryHead+24 || string(b[:4]) != "IED2" {
		t.Fatalf("%s is not a disk entry", path)
	}
	b = b[diskEntryHead:]
	e := &diskEntry{times: b[:24]}
	b = b[24:]
	part := func() []byte {
		n := binary.LittleEndian.Uint32(b)
		p := b[4 : 4+n]
		b = b[4+n:]
		return p
	}
	e.key, e.tags = part(), part()
	if err := json.Unmarshal(part(), &e.header); err != nil {
		t.Fatal(err)
	}
	e.body = b[8:]
	return e
}

// encode lays e out under magic: "IED1" with its xxhash, as the release
// before wrote entries, or "IED2" with a MAC under a made-up secret.
func (e *diskEntry) encode(magic string) []byte {
	header, _ := json.Marshal(e.header)
	payload := bytes.Clone(e.times)
	for _, part := range [][]byte{e.key, e.tags, header} {
		payload = binary.LittleEndian.AppendUint32(payload, uint32(len(part)))
		payload = append(payload, part...)
	}
	payload = binary.LittleEndian.AppendUint64(payload, uint64(len(e.body)))
	payload = append(payload, e.body...)
	head := binary.LittleEndian.AppendUint32([]byte(magic), uint32(len(payload)))
	if magic == "IED1" {
		head = binary.LittleEndian.AppendUint64(head, xxhash.Sum64(payload))
	} else {
		mac := make([]byte, 32)
		_, _ = rand.Read(mac)
		head = append(head, mac...)
	}
	return append(head, payload...)
}

// variantFiles are the entry files of variants in the disk directory
// (those with a body: a source's info has none).
func variantFiles(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	_ = filepath.WalkDir(filepath.Join(dir, "v"), func(path string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() && len(readDiskEntry(t, path).body) > 0 {
			paths = append(paths, path)
		}
		return nil
	})
	return paths
}
