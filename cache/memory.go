package cache

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Bounds of DefaultMaxBytes.
const (
	MinDefaultMaxBytes = 64 << 20 // 64 MiB
	MaxDefaultMaxBytes = 1 << 30  // 1 GiB
)

// DefaultMaxBytes is the variant budget used when Config.MaxBytes is zero:
// 1/8 of the memory available to the process, clamped to [64 MiB, 1 GiB].
//
// The available memory is MemTotal from /proc/meminfo, or the process's
// cgroup memory limit when that is lower (cgroup v2 memory.max, or cgroup v1
// memory.limit_in_bytes), so a container limit is respected. When neither can
// be read (not Linux, restricted /proc), the result is 64 MiB.
//
// An eighth leaves room for the originals budget (a quarter of this), for
// libvips's working memory, and for the Go heap's own headroom. Set MaxBytes
// explicitly on machines dedicated to imgedge.
func DefaultMaxBytes() int64 {
	return defaultMaxBytes(os.ReadFile)
}

func defaultMaxBytes(readFile func(string) ([]byte, error)) int64 {
	return DefaultMaxBytesFor(availableMemory(readFile))
}

// DefaultMaxBytesFor is DefaultMaxBytes on a node of memory bytes (0:
// unknown).
func DefaultMaxBytesFor(memory int64) int64 {
	if memory <= 0 {
		return MinDefaultMaxBytes
	}
	return min(max(memory/8, MinDefaultMaxBytes), MaxDefaultMaxBytes)
}

// AvailableMemory is the memory available to the process, as
// DefaultMaxBytes reads it; 0 when it cannot be read.
func AvailableMemory() int64 {
	return availableMemory(os.ReadFile)
}

// availableMemory returns the lower of MemTotal and the cgroup limit, or 0
// when neither is known.
func availableMemory(readFile func(string) ([]byte, error)) int64 {
	avail := memTotal(readFile)
	if limit := cgroupLimit(readFile); limit > 0 && (avail == 0 || limit < avail) {
		avail = limit
	}
	return avail
}

// memTotal reads MemTotal from /proc/meminfo, in bytes.
func memTotal(readFile func(string) ([]byte, error)) int64 {
	data, err := readFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest) // "24684084 kB"
		if len(fields) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb <= 0 {
			return 0
		}
		return kb << 10
	}
	return 0
}

// cgroupLimit returns the lowest memory limit found for this process's
// cgroup, or 0 when there is none ("max", unreadable, or cgroup v1's
// "unlimited" sentinel, which is larger than any real memory anyway).
func cgroupLimit(readFile func(string) ([]byte, error)) int64 {
	candidates := []string{
		"/sys/fs/cgroup/memory.max",                   // v2, namespaced root
		"/sys/fs/cgroup/memory/memory.limit_in_bytes", // v1, namespaced root
	}
	if data, err := readFile("/proc/self/cgroup"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			// "0::/path" (v2) or "4:memory:/path" (v1).
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 || parts[2] == "/" {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				candidates = append(candidates, path.Join("/sys/fs/cgroup", parts[2], "memory.max"))
			case slices.Contains(strings.Split(parts[1], ","), "memory"):
				candidates = append(candidates, path.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"))
			}
		}
	}
	var lowest int64
	for _, p := range candidates {
		data, err := readFile(p)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil || n <= 0 { // "max" or garbage
			continue
		}
		if lowest == 0 || n < lowest {
			lowest = n
		}
	}
	return lowest
}
