package imgedge_test

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// diskSite serves photos with a disk tier of diskSize in dir.
func diskSite(t *testing.T, dir, diskSize string, wrapper ...string) *testenv.Caddy {
	t.Helper()
	root := t.TempDir()
	files := map[string][]byte{}
	for i := range 4 {
		files[fmt.Sprintf("p%d.jpg", i)] = testimages.JPEG(testimages.Gradient(1600+100*i, 1000))
	}
	writeFiles(t, root, files)
	cf := fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	root * %s
	image_resize {
		cache_disk %s %s
	}
	file_server
}
`, root, dir, diskSize)
	if len(wrapper) > 0 {
		return testenv.StartUnder(t, cf, wrapper...)
	}
	return testenv.Start(t, cf)
}

// waitDiskWritten waits until the node's disk tier has written (or failed
// to write, or dropped) n entries.
func waitDiskWritten(t *testing.T, c *testenv.Caddy, n float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for metric(t, c, "imgedge_disk_written_total")+metric(t, c, "imgedge_disk_write_errors_total")+metric(t, c, "imgedge_disk_dropped_writes_total") < n {
		if time.Now().After(deadline) {
			t.Fatalf("the disk tier wrote %v of %v entries in 10s", metric(t, c, "imgedge_disk_written_total"), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTheDiskTierOutlivesKillAndRestart(t *testing.T) {
	dir := t.TempDir()
	c := diskSite(t, dir, "64MiB")
	var urls []string
	for i := range 4 {
		for _, w := range []int{200, 300, 400} {
			urls = append(urls, fmt.Sprintf("%s/p%d.jpg?w=%d&f=webp", c.Base, i, w))
		}
	}
	first := map[string]answer{}
	for _, u := range urls {
		a := get(t, u)
		if a.status != 200 {
			t.Fatalf("%s: %d %s", u, a.status, a.body)
		}
		first[u] = a
	}
	// Every variant, its source's info and the originals.
	waitDiskWritten(t, c, float64(len(urls)+4+4))
	resp, err := http.Post("http://"+c.Admin+"/imgedge/purge", "application/json",
		strings.NewReader(`{"tenant": "127.0.0.1", "source": "/p3.jpg"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.Kill()
	c.Restart()

	sawDisk := false
	for _, u := range urls {
		a := get(t, u)
		sawDisk = sawDisk || strings.Contains(a.header.Get("Cache-Status"), "detail=disk")
		if strings.Contains(u, "/p3.jpg") {
			if strings.HasPrefix(a.header.Get("Cache-Status"), "imgedge; hit") {
				t.Errorf("%s, purged before the kill, is a hit after the restart", u)
			}
			continue
		}
		if a.status != 200 || string(a.body) != string(first[u].body) || a.header.Get("ETag") != first[u].header.Get("ETag") ||
			!strings.HasPrefix(a.header.Get("Cache-Status"), "imgedge; hit") {
			t.Errorf("%s after kill -9 and restart: %d, %s, same bytes %v; want a hit with the same bytes",
				u, a.status, a.header.Get("Cache-Status"), string(a.body) == string(first[u].body))
		}
	}
	if !sawDisk {
		t.Error("no answer after the restart says it came from disk (Cache-Status detail=disk)")
	}
	if n := metric(t, c, "imgedge_resize_total"); n != 3 {
		t.Errorf("%v resizes after the restart, want 3 (the purged source's variants only)", n)
	}
	if n := metric(t, c, "imgedge_disk_hits_total"); n < 9 {
		t.Errorf("%v disk hits, want the 9 variants at least", n)
	}
}

func TestATruncatedEntryIsRemadeWhole(t *testing.T) {
	dir := t.TempDir()
	c := diskSite(t, dir, "64MiB")
	u := c.Base + "/p0.jpg?w=500&f=png"
	want := get(t, u)
	waitDiskWritten(t, c, 3) // the variant, its info, the original
	c.Kill()
	// Cut every entry of the tier in half.
	cut := 0
	_ = filepath.WalkDir(filepath.Join(dir, "v"), func(path string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			b, _ := os.ReadFile(path)
			if os.WriteFile(path, b[:len(b)/2], 0o640) == nil {
				cut++
			}
		}
		return nil
	})
	if cut < 2 {
		t.Fatalf("cut %d entries, want the variant's and its info's", cut)
	}
	c.Restart()
	a := get(t, u)
	if a.status != 200 || string(a.body) != string(want.body) {
		t.Fatalf("after the entries were cut: %d, %d bytes, want the %d bytes made before", a.status, len(a.body), len(want.body))
	}
	decode(t, a.body)
	if metric(t, c, "imgedge_resize_total") != 1 || metric(t, c, "imgedge_disk_corrupt_total") < 1 {
		t.Errorf("resizes %v, corrupt entries %v: want the cut entry dropped and the variant made again",
			metric(t, c, "imgedge_resize_total"), metric(t, c, "imgedge_disk_corrupt_total"))
	}
}

func TestTheDiskBudgetHoldsUnderAStreamOfLargeVariants(t *testing.T) {
	dir := t.TempDir()
	const budget = 2 << 20
	c := diskSite(t, dir, "2MiB")
	for i := range 40 {
		a := get(t, fmt.Sprintf("%s/p%d.jpg?w=%d&f=webp&q=95", c.Base, i%4, 1200+i))
		if a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		waitDiskWritten(t, c, float64(i+1)) // at least this many: nothing dropped for a full queue
	}
	if n := metric(t, c, "imgedge_disk_written_total"); n < 40 {
		t.Errorf("%v entries written for 40 variants", n)
	}
	time.Sleep(200 * time.Millisecond)
	var used int64
	_ = filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() && (strings.Contains(path, "/v/") || strings.Contains(path, "/o/")) {
			if info, err := de.Info(); err == nil {
				used += info.Size()
			}
		}
		return nil
	})
	if used > budget || metric(t, c, "imgedge_disk_evictions_total") == 0 {
		t.Errorf("the tier's files hold %d bytes for a budget of %d (%v evictions)", used, budget, metric(t, c, "imgedge_disk_evictions_total"))
	}
}

func TestAnUnusableOrFullDiskKeepsTheNodeServingFromMemory(t *testing.T) {
	t.Run("a directory that cannot be made", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "a-file")
		if err := os.WriteFile(file, nil, 0o640); err != nil {
			t.Fatal(err)
		}
		c := diskSite(t, filepath.Join(file, "cache"), "64MiB")
		var a answer
		for range 2 {
			if a = get(t, c.Base+"/p0.jpg?w=300"); a.status != 200 {
				t.Fatalf("%d %s", a.status, a.body)
			}
		}
		if metric(t, c, "imgedge_disk_unusable") != 1 || !strings.HasPrefix(a.header.Get("Cache-Status"), "imgedge; hit") {
			t.Errorf("imgedge_disk_unusable %v, the second answer %q: want the disk reported unusable and memory serving",
				metric(t, c, "imgedge_disk_unusable"), a.header.Get("Cache-Status"))
		}
	})
	t.Run("a disk that refuses every large write (RLIMIT_FSIZE 64 KiB)", func(t *testing.T) {
		c := diskSite(t, t.TempDir(), "64MiB", "prlimit", "--fsize=65536", "--")
		u := c.Base + "/p1.jpg?w=1200&f=png" // far over 64 KiB
		var a answer
		for i := range 2 {
			if a = get(t, u); a.status != 200 {
				t.Fatalf("request %d: %d %s", i, a.status, a.body)
			}
		}
		waitDiskWritten(t, c, 2)
		if metric(t, c, "imgedge_disk_write_errors_total") < 1 || !strings.HasPrefix(a.header.Get("Cache-Status"), "imgedge; hit") {
			t.Errorf("write errors %v, the second answer %q: want the failed writes counted and the variant served from memory",
				metric(t, c, "imgedge_disk_write_errors_total"), a.header.Get("Cache-Status"))
		}
	})
}

func TestASecondSiteCannotTakeADiskTiersDirectory(t *testing.T) {
	dir := t.TempDir()
	diskSite(t, dir, "8MiB")
	root := t.TempDir()
	cf := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(cf, []byte(fmt.Sprintf("http://127.0.0.1:1 {\n\troot * %s\n\timage_resize {\n\t\tcache_disk %s 8MiB\n\t}\n\tfile_server\n}\n", root, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCaddy(t, "validate", "--config", cf, "--adapter", "caddyfile")
	if err == nil || !strings.Contains(out, "already in use as a disk cache") {
		t.Errorf("caddy validate on a directory another process holds: %v\n%s", err, out)
	}
}

// runCaddy runs the caddy binary with args and returns its output.
func runCaddy(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testenv.CaddyBinary(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}
