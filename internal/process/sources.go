package process

import (
	"fmt"
	"runtime"

	"github.com/caddyserver/caddy/v2"

	"github.com/imgedge/imgedge/internal/budget"
	"github.com/imgedge/imgedge/internal/pool"
)

// Defaults of the process's budget for originals in flight.
const (
	maxDefaultSourceBudget = 256 << 20 // bytes of originals fetched or held for processing (see defaultSourceBudget)
	fetchesPerCore         = 16        // concurrent fetches per core
)

// SourceBudgets holds the process's budget for originals in flight, kept
// across reloads while its size stays the same.
var SourceBudgets = caddy.NewUsagePool()

// LoadSourceBudget returns the process's budget of limit bytes and n
// fetches (defaults for zero values), and the key to release it by.
func LoadSourceBudget(limit int64, n int, memory int64) (*budget.Budget, string, error) {
	if limit == 0 {
		limit = defaultSourceBudget(memory)
	}
	if n == 0 {
		n = fetchesPerCore * runtime.NumCPU()
	}
	key := fmt.Sprintf("%d/%d", limit, n)
	b, _, err := pool.Load(SourceBudgets, key, func() (*budget.Budget, func() error, error) {
		return budget.New(limit, n), func() error { return nil }, nil
	})
	return b, key, err
}

// defaultSourceBudget is the source budget of a node of memory bytes: an
// eighth of it, between 32 and 256 MiB.
func defaultSourceBudget(memory int64) int64 {
	if memory <= 0 {
		return maxDefaultSourceBudget
	}
	return min(max(memory/8, 32<<20), maxDefaultSourceBudget)
}
