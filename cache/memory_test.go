package cache

import (
	"io/fs"
	"testing"
)

func TestDefaultMaxBytes(t *testing.T) {
	const (
		mib = int64(1) << 20
		gib = int64(1) << 30
	)
	meminfo := func(kb string) string {
		return "MemTotal:       " + kb + " kB\nMemFree:        1000 kB\n"
	}
	tests := []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"an eighth of 2 GiB is 256 MiB", map[string]string{
			"/proc/meminfo": meminfo("2097152"),
		}, 256 * mib},
		{"a large machine is capped at 1 GiB", map[string]string{
			"/proc/meminfo": meminfo("67108864"),
		}, 1 * gib},
		{"a small machine gets at least 64 MiB", map[string]string{
			"/proc/meminfo": meminfo("262144"),
		}, 64 * mib},
		{"a lower cgroup v2 limit wins over MemTotal", map[string]string{
			"/proc/meminfo":             meminfo("16777216"),
			"/sys/fs/cgroup/memory.max": "1073741824\n",
		}, 128 * mib},
		{"a cgroup v2 limit of max is ignored", map[string]string{
			"/proc/meminfo":             meminfo("2097152"),
			"/sys/fs/cgroup/memory.max": "max\n",
		}, 256 * mib},
		{"the cgroup v1 unlimited sentinel is ignored", map[string]string{
			"/proc/meminfo": meminfo("2097152"),
			"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, 256 * mib},
		{"a nested cgroup v2 limit is found through /proc/self/cgroup", map[string]string{
			"/proc/meminfo":     meminfo("16777216"),
			"/proc/self/cgroup": "0::/system.slice/imgedge.service\n",
			"/sys/fs/cgroup/system.slice/imgedge.service/memory.max": "2147483648\n",
		}, 256 * mib},
		{"a nested cgroup v1 limit is found through /proc/self/cgroup", map[string]string{
			"/proc/meminfo":     meminfo("16777216"),
			"/proc/self/cgroup": "5:cpu,cpuacct:/x\n4:memory:/docker/abc\n0::/\n",
			"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "4294967296\n",
		}, 512 * mib},
		{"a cgroup limit alone is enough", map[string]string{
			"/sys/fs/cgroup/memory.max": "1073741824\n",
		}, 128 * mib},
		{"nothing readable gives 64 MiB", map[string]string{}, 64 * mib},
		{"an unparsable meminfo gives 64 MiB", map[string]string{
			"/proc/meminfo": "MemTotal: lots\n",
		}, 64 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readFile := func(name string) ([]byte, error) {
				if s, ok := tt.files[name]; ok {
					return []byte(s), nil
				}
				return nil, fs.ErrNotExist
			}
			if got := defaultMaxBytes(readFile); got != tt.want {
				t.Errorf("defaultMaxBytes = %d MiB, want %d MiB", got/mib, tt.want/mib)
			}
		})
	}

	t.Run("the real machine gives a value within the bounds", func(t *testing.T) {
		if got := DefaultMaxBytes(); got < MinDefaultMaxBytes || got > MaxDefaultMaxBytes {
			t.Errorf("DefaultMaxBytes() = %d", got)
		}
	})
}
