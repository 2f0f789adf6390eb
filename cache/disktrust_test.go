package cache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/imgedge/imgedge/transform"
)

// outside is a directory outside the tier, with a file in it, that links
// planted in the tier name; check says whether both are as they were.
type outside struct {
	dir, file string
	body      []byte
	info      fs.FileInfo
}

func newOutside(t *testing.T) *outside {
	t.Helper()
	o := &outside{dir: t.TempDir(), body: []byte("precious\n")}
	o.file = filepath.Join(o.dir, "precious")
	if err := os.WriteFile(o.file, o.body, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(o.file, old, old); err != nil {
		t.Fatal(err)
	}
	o.info, _ = os.Stat(o.file)
	return o
}

func (o *outside) check(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(o.file)
	info, _ := os.Stat(o.file)
	names, _ := os.ReadDir(o.dir)
	if err != nil || !bytes.Equal(b, o.body) || info.Mode() != o.info.Mode() || !info.ModTime().Equal(o.info.ModTime()) || len(names) != 1 {
		t.Errorf("the file outside the tier changed: %q %v, mode %v, time %v, %d files beside it; want it untouched",
			b, err, info.Mode(), info.ModTime(), len(names))
	}
}

// plantLink replaces whatever is at name in the tier in dir with a
// symbolic link to target.
func plantLink(t *testing.T, dir, name, target string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func plantFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestALinkPlantedAtANameOfTheTierIsNeverFollowed(t *testing.T) {
	shard := filepath.Dir(entryPath("", "k"))
	for _, tc := range []struct {
		name    string
		at      string
		hard    bool   // a hard link to the outside file, not a symbolic one
		refused string // OpenDisk's error says this; "" if it opens
	}{
		{name: "the lock", at: "LOCK", refused: "LOCK is a symbolic link"},
		{name: "the lock, hard-linked", at: "LOCK", hard: true, refused: "LOCK is not a plain file of its own"},
		{name: "the secret", at: "secret", refused: "secret is not this process's own"},
		{name: "the secret, hard-linked", at: "secret", hard: true, refused: "secret is not this process's own"},
		{name: "the purge journal", at: "purges"},
		{name: "the previous release's new journal", at: "purges.new"},
		{name: "the alive file", at: "alive"},
		{name: "the temporary directory", at: "tmp"},
		{name: "an entry", at: entryPath("", "k")},
		{name: "an entry, hard-linked", at: entryPath("", "k"), hard: true},
		{name: "an entry's shard directory", at: shard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := diskCache(t, dir, 1<<20)
			c.Set("k", photoEntry(1, 100, "src:t|/a.jpg"))
			waitWritten(t, c, 1)
			c.Close()
			o := newOutside(t)
			target := o.file
			if strings.HasSuffix(tc.at, "tmp") || tc.at == shard {
				target = o.dir
			}
			if tc.hard {
				_ = os.Remove(filepath.Join(dir, tc.at))
				if err := os.Link(target, filepath.Join(dir, tc.at)); err != nil {
					t.Fatal(err)
				}
			} else {
				plantLink(t, dir, tc.at, target)
			}

			d, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: 1 << 20})
			if tc.refused != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refused) || errors.Is(err, ErrDiskInUse) {
					t.Errorf("OpenDisk: %v; want it refused, saying %q", err, tc.refused)
				}
				d.Close()
				o.check(t)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			again, err := New(Config{MaxBytes: 8 << 20, Disk: d})
			if err != nil {
				t.Fatal(err)
			}
			tc2 := tieredCache{again, d}
			t.Cleanup(tc2.Close)
			e, ok := tc2.Get("k")
			if tc.at == entryPath("", "k") && ok {
				t.Errorf("the link planted at the entry was served: %q", e.Body)
			}
			tc2.Set("k", photoEntry(2, 100, "src:t|/a.jpg"))
			tc2.Set("k2", photoEntry(3, 100, "src:t|/b.jpg"))
			waitWritten(t, tc2, 2)
			tc2.Purge("src:t|/b.jpg")
			tc2.Close()
			o.check(t)
		})
	}
}

func TestATemporaryFileNameHeldByALinkIsNotWrittenThrough(t *testing.T) {
	dir := t.TempDir()
	c := diskCache(t, dir, 1<<20)
	o := newOutside(t)
	plantLink(t, dir, "tmp/w-"+strconv.FormatUint(c.disk.temps.Load()+1, 36), o.file)
	c.Set("k", photoEntry(1, 100))
	waitWritten(t, c, 1)
	c.Set("k2", photoEntry(2, 100))
	waitWritten(t, c, 2)
	if st := c.disk.Stats(); st.WriteErrors != 1 || st.Written != 1 {
		t.Errorf("%d written, %d write errors: want the write to the link's name refused, the next written", st.Written, st.WriteErrors)
	}
	o.check(t)
}

// oldEntry lays an entry out as the release before the MAC did: "IED1",
// the payload's length and its xxhash, then the same payload.
func oldEntry(t *testing.T, key string, e *Entry) []byte {
	t.Helper()
	b, err := encodeDiskEntry(nil, key, e, time.Now(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	payload := b[diskHead:]
	old := make([]byte, 16, 16+len(payload))
	copy(old, "IED1")
	binary.LittleEndian.PutUint32(old[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(old[8:], xxhash.Sum64(payload))
	return append(old, payload...)
}

func signed(t *testing.T, secret []byte, key string, e *Entry) []byte {
	t.Helper()
	b, err := encodeDiskEntry(secret, key, e, time.Now(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hostileEntry is what a planted entry claims to be.
func hostileEntry() *Entry {
	return &Entry{Body: []byte("<script>alert(1)</script>"),
		Header: http.Header{"Content-Type": {"text/html"}, "Set-Cookie": {"session=stolen"}}}
}

func TestAnEntryWithoutTheTiersMACIsNeverServed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry func(t *testing.T) []byte
	}{
		{"an entry of the previous format, with a valid checksum", func(t *testing.T) []byte {
			return oldEntry(t, "k", photoEntry(9, 100))
		}},
		{"a hostile entry of the previous format", func(t *testing.T) []byte {
			return oldEntry(t, "k", hostileEntry())
		}},
		{"an entry signed with another secret", func(t *testing.T) []byte {
			return signed(t, bytes.Repeat([]byte{7}, secretSize), "k", photoEntry(9, 100))
		}},
		{"an entry with no MAC", func(t *testing.T) []byte {
			b := signed(t, nil, "k", photoEntry(9, 100))
			clear(b[8:diskHead])
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := diskCache(t, dir, 1<<20)
			c.Set("k", photoEntry(1, 100))
			waitWritten(t, c, 1)
			c.Close()
			plantFile(t, entryPath(dir, "k"), tc.entry(t))

			again := diskCache(t, dir, 1<<20)
			if e, ok := again.Get("k"); ok {
				t.Fatalf("the planted entry was served: %v %q", e.Header, e.Body)
			}
			if _, err := os.Lstat(entryPath(dir, "k")); !errors.Is(err, fs.ErrNotExist) {
				t.Error("the planted entry is still on disk")
			}
			// The read or the start-up scan drops it, whichever comes
			// first; the scan counts what it removed by the time it is done.
			waitIndexed(t, again)
			if n := again.disk.Stats().Corrupt; n != 1 {
				t.Errorf("%d corrupt entries counted, want 1", n)
			}
		})
	}
}

func TestTheScanDropsEntriesWithoutTheTiersMAC(t *testing.T) {
	dir := t.TempDir()
	c := diskCache(t, dir, 1<<20)
	c.Close()
	plantFile(t, entryPath(dir, "old"), oldEntry(t, "old", photoEntry(1, 100)))
	o := newOutside(t)
	plantLink(t, dir, entryPath("", "link"), o.file)
	again := diskCache(t, dir, 1<<20)
	waitIndexed(t, again)
	for _, key := range []string{"old", "link"} {
		if _, err := os.Lstat(entryPath(dir, key)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the planted %s entry is still on disk", key)
		}
	}
	if st := again.disk.Stats(); st.Corrupt != 2 || st.Entries != 0 {
		t.Errorf("%d corrupt, %d indexed: want both planted files dropped", st.Corrupt, st.Entries)
	}
	o.check(t)
}

func TestOnlyTheHeadersTheTierStoresComeBackFromDisk(t *testing.T) {
	image := func(ct string, extra ...string) *Entry {
		h := http.Header{"Etag": {`"1"`}, "Cache-Control": {"public, max-age=60"}, "Vary": {"Accept"}}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Add(extra[i], extra[i+1])
		}
		return &Entry{Body: []byte("bytes"), Header: h}
	}
	for _, tc := range []struct {
		name      string
		original  bool
		e         *Entry
		served    bool
		want, not []string // headers kept, headers dropped
	}{
		{name: "a variant loses Set-Cookie and headers it never carries", e: image("image/webp",
			"Set-Cookie", "session=stolen", "Location", "https://evil.example/", "Access-Control-Allow-Origin", "*", "Content-Security-Policy", "default-src 'none'"),
			served: true, want: []string{"Content-Type", "Etag", "Cache-Control", "Vary", "Access-Control-Allow-Origin", "Content-Security-Policy"},
			not: []string{"Set-Cookie", "Location"}},
		{name: "a variant whose Content-Type is under a name net/http would not write is not served", e: &Entry{Body: []byte("b"), Header: http.Header{"content-type": {"image/webp"}}}},
		{name: "a variant served as HTML is not served", e: image("text/html; charset=utf-8")},
		{name: "a variant without a Content-Type is not served (it would be sniffed)", e: image("")},
		{name: "a variant with two Content-Types is not served", e: image("image/webp", "Content-Type", "text/html")},
		{name: "a variant in SVG is not served", e: image("image/svg+xml")},
		{name: "a description (fm=json) is served", e: image("application/json"), served: true, want: []string{"Content-Type"}},
		{name: "a BlurHash is served", e: image("text/plain; charset=utf-8"), served: true},
		{name: "a source's info keeps its fields", e: &Entry{Header: http.Header{"Format": {"1"}, "Alpha": {"false"}, "Animated": {"false"},
			"Size": {"10x10"}, "Set-Cookie": {"a=b"}}}, served: true, want: []string{"Format", "Alpha", "Animated", "Size"}, not: []string{"Set-Cookie"}},
		{name: "an original from an object store is served", original: true, e: image("application/octet-stream", "Set-Cookie", "a=b", "Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT"),
			served: true, want: []string{"Content-Type", "Last-Modified"}, not: []string{"Set-Cookie"}},
		{name: "an original in SVG is served (to the pipeline and shield hops)", original: true, e: image("image/svg+xml"), served: true},
		{name: "an original served as HTML is not served", original: true, e: image("text/html")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := diskCache(t, dir, 1<<20)
			c.Close()
			secret, err := os.ReadFile(filepath.Join(dir, secretFile))
			if err != nil {
				t.Fatal(err)
			}
			space, get := "v", (*Cache).Get
			if tc.original {
				space, get = "o", (*Cache).GetOriginal
			}
			// Signed with the tier's own secret, as the tier would have
			// written it: the MAC holds, the headers decide.
			plantFile(t, filepath.Join(dir, (&diskSpace{dir: space}).pathOf("k")), signed(t, secret, "k", tc.e))
			again := diskCache(t, dir, 1<<20)
			e, ok := get(again.Cache, "k")
			if ok != tc.served {
				t.Fatalf("served %v, want %v (%v)", ok, tc.served, e)
			}
			if ok {
				for _, h := range tc.want {
					if e.Header.Get(h) != tc.e.Header.Get(h) {
						t.Errorf("%s: %q, want %q", h, e.Header.Get(h), tc.e.Header.Get(h))
					}
				}
				for _, h := range tc.not {
					if v := e.Header.Values(h); len(v) > 0 {
						t.Errorf("%s came back from disk: %q", h, v)
					}
				}
			} else if again.disk.Stats().Corrupt != 1 {
				t.Errorf("%d corrupt entries counted, want the refused one", again.disk.Stats().Corrupt)
			}
		})
	}
}

func TestTheTierWritesOnlyWhatItWouldServe(t *testing.T) {
	dir := t.TempDir()
	c := diskCache(t, dir, 1<<20)
	cookie := photoEntry(1, 100)
	cookie.Header.Set("Set-Cookie", "session=one-clients")
	c.Set("cookie", cookie)
	html := photoEntry(2, 100)
	html.Header.Set("Content-Type", "text/html")
	c.Set("html", html)
	waitWritten(t, c, 1)
	if e, _ := c.Get("cookie"); e.Header.Get("Set-Cookie") == "" {
		t.Error("the memory's copy lost its header: only the disk's leaves it")
	}
	if st := c.disk.Stats(); st.Dropped != 1 {
		t.Errorf("%d writes dropped, want the HTML one", st.Dropped)
	}
	b, _ := os.ReadFile(entryPath(dir, "cookie"))
	if bytes.Contains(b, []byte("session=one-clients")) {
		t.Error("Set-Cookie was written to disk")
	}
	c.Close()
	again := diskCache(t, dir, 1<<20)
	if e, ok := again.Get("cookie"); !ok || e.Header.Get("Set-Cookie") != "" || e.Header.Get("Etag") != `"1"` {
		t.Errorf("after a restart: %v %v; want it served, its ETag and no Set-Cookie", ok, e)
	}
	if _, ok := again.Get("html"); ok {
		t.Error("an HTML entry came back from disk")
	}
}

func TestEveryFormatImgedgeWritesIsServedFromDisk(t *testing.T) {
	for f := transform.JPEG; f <= transform.PaletteCSS; f++ {
		if !f.Writable() && !f.Describes() {
			continue
		}
		e := &Entry{Body: []byte("b"), Header: http.Header{"Content-Type": {f.MIME()}}}
		if _, err := diskHeader(e, false); err != nil {
			t.Errorf("a variant in %s (%s) would not be served from disk: %v", f, f.MIME(), err)
		}
	}
}

// foreignDir is a directory another user owns.
func foreignDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatalf("giving a directory to uid 65534 (the test runs as root): %v", err)
	}
	return dir
}

func TestADirectoryThatIsNotTheProcesssOwnIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string
		says string
	}{
		{"owned by another user", foreignDir, "chown"},
		{"writable by its group", func(t *testing.T) string { return chmodded(t, 0o770) }, "chmod 700"},
		{"writable by others", func(t *testing.T) string { return chmodded(t, 0o703) }, "chmod 700"},
		{"world-writable and sticky, as /tmp", func(t *testing.T) string { return chmodded(t, 0o1777) }, "chmod 700"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			_, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: 1 << 20})
			if !errors.Is(err, ErrDiskUntrusted) || errors.Is(err, ErrDiskInUse) || !strings.Contains(err.Error(), tc.says) ||
				!strings.Contains(err.Error(), dir) {
				t.Errorf("OpenDisk: %v; want ErrDiskUntrusted naming %s and saying %q", err, dir, tc.says)
			}
			if names, _ := os.ReadDir(dir); len(names) > 0 {
				t.Errorf("the refused directory was written: %v", names)
			}
		})
	}
	t.Run("readable by its group, as the release before made it", func(t *testing.T) {
		diskCache(t, chmodded(t, 0o750), 1<<20)
	})
	t.Run("made by the tier, its own", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "disk")
		c := diskCache(t, dir, 1<<20)
		c.Set("k", photoEntry(1, 100))
		waitWritten(t, c, 1)
		for _, p := range []string{dir, filepath.Dir(dir), filepath.Join(dir, "v"), filepath.Join(dir, secretFile), entryPath(dir, "k")} {
			if info, err := os.Stat(p); err != nil || info.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: %v, %v; want it the process's user's alone", p, info.Mode(), err)
			}
		}
	})
}

func chmodded(t *testing.T, mode fs.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	if mode&0o1000 != 0 {
		mode = mode&0o777 | fs.ModeSticky
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestASecretThatIsNotTheTiersIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, path string, o *outside)
		says  string
	}{
		{"a symbolic link", func(t *testing.T, path string, o *outside) {
			o.body = bytes.Repeat([]byte{1}, secretSize)
			if err := os.WriteFile(o.file, o.body, 0o600); err != nil {
				t.Fatal(err)
			}
			o.info, _ = os.Stat(o.file)
			plantLink(t, filepath.Dir(path), secretFile, o.file)
		}, "not a plain file"},
		{"readable by others", func(t *testing.T, path string, o *outside) {
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "group or others may read it (mode 0644)"},
		{"owned by another user", func(t *testing.T, path string, o *outside) {
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatalf("giving the secret to uid 65534 (the test runs as root): %v", err)
			}
		}, "owned by uid 65534"},
		{"too short", func(t *testing.T, path string, o *outside) {
			if err := os.Truncate(path, 16); err != nil {
				t.Fatal(err)
			}
		}, "holds 16 bytes, not 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := diskCache(t, dir, 1<<20)
			c.Set("k", photoEntry(1, 100))
			waitWritten(t, c, 1)
			c.Close()
			path := filepath.Join(dir, secretFile)
			o := newOutside(t)
			tc.spoil(t, path, o)
			before, _ := os.Lstat(path)
			_, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: 1 << 20})
			if !errors.Is(err, ErrDiskUntrusted) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "remove it") {
				t.Errorf("OpenDisk: %v; want ErrDiskUntrusted saying %q and what to do", err, tc.says)
			}
			if after, _ := os.Lstat(path); !os.SameFile(before, after) || after.ModTime() != before.ModTime() {
				t.Error("the refused secret was replaced")
			}
			o.check(t)
		})
	}
	t.Run("removed: the tier starts empty with a new one", func(t *testing.T) {
		dir := t.TempDir()
		c := diskCache(t, dir, 1<<20)
		c.Set("k", photoEntry(1, 100))
		waitWritten(t, c, 1)
		c.Close()
		old, _ := os.ReadFile(filepath.Join(dir, secretFile))
		if err := os.Remove(filepath.Join(dir, secretFile)); err != nil {
			t.Fatal(err)
		}
		again := diskCache(t, dir, 1<<20)
		if _, ok := again.Get("k"); ok {
			t.Error("an entry signed with the removed secret was served")
		}
		if now, _ := os.ReadFile(filepath.Join(dir, secretFile)); len(now) != secretSize || bytes.Equal(now, old) {
			t.Errorf("the new secret: %d bytes, the old one again %v", len(now), bytes.Equal(now, old))
		}
	})
}

func TestATierOfTheReleaseBeforeStartsEmpty(t *testing.T) {
	dir := chmodded(t, 0o750)
	for _, f := range []struct {
		name string
		b    []byte
	}{
		{"alive", nil},
		{"LOCK", []byte("1\n")},
		{"purges", []byte(journalLine(time.Now(), "src:t|/x.jpg"))},
		{"purges.new", nil},
		{entryPath("", "k"), oldEntry(t, "k", photoEntry(1, 100))},
	} {
		plantFile(t, filepath.Join(dir, f.name), f.b)
	}
	c := diskCache(t, dir, 1<<20)
	if _, ok := c.Get("k"); ok {
		t.Error("an entry of the release before, unsigned, was served")
	}
	waitIndexed(t, c)
	if st := c.disk.Stats(); st.Corrupt != 0 || st.Entries != 0 {
		t.Errorf("%d corrupt, %d indexed: want the old entries set aside, not counted as damage", st.Corrupt, st.Entries)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		names, _ := os.ReadDir(dir)
		if !slices.ContainsFunc(names, func(de fs.DirEntry) bool {
			return strings.HasPrefix(de.Name(), "trash-") || de.Name() == "purges.new"
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old entries are still there after 10s: %v", names)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestADiskDirectoryOthersCouldReplaceIsRefused(t *testing.T) {
	parent := t.TempDir()
	if err := os.Chmod(parent, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := OpenDisk(DiskConfig{Dir: filepath.Join(parent, "cache"), MaxBytes: 1 << 20})
	if !errors.Is(err, ErrDiskUntrusted) || !strings.Contains(err.Error(), "parent") {
		t.Errorf("a directory in a world-writable parent: %v, want ErrDiskUntrusted naming the parent", err)
	}
	// Sticky, as /tmp: others cannot rename what is not theirs.
	if err := os.Chmod(parent, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDisk(DiskConfig{Dir: filepath.Join(parent, "cache"), MaxBytes: 1 << 20})
	if err != nil {
		t.Fatalf("a directory in a sticky parent: %v", err)
	}
	d.Close()
	// A link to a directory of the node's own is followed once, and the
	// tier keeps to what it named.
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	d, err = OpenDisk(DiskConfig{Dir: link, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatalf("a link to a directory of the node's own: %v", err)
	}
	d.Close()
	if _, err := os.Stat(filepath.Join(real, "secret")); err != nil {
		t.Errorf("the tier did not work in the directory the link named: %v", err)
	}
}
