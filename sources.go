package imgedge

import (
	"fmt"
	"runtime"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imgedge/imgedge/internal/budget"
)

// Defaults of the process's budget for originals in flight.
const (
	defaultSourceBudget = 256 << 20 // bytes of originals fetched or held for processing
	fetchesPerCore      = 16        // concurrent fetches per core
)

// sourceBudgets holds the process's budget for originals in flight, kept
// across reloads while its size stays the same.
var sourceBudgets = caddy.NewUsagePool()

// loadSourceBudget returns the process's budget of limit bytes and n
// fetches (defaults for zero values), and the key to release it by.
func loadSourceBudget(limit int64, n int) (*budget.Budget, string, error) {
	if limit == 0 {
		limit = defaultSourceBudget
	}
	if n == 0 {
		n = fetchesPerCore * runtime.NumCPU()
	}
	key := fmt.Sprintf("%d/%d", limit, n)
	b, _, err := loadPooled(sourceBudgets, key, func() (*budget.Budget, func() error, error) {
		return budget.New(limit, n), func() error { return nil }, nil
	})
	return b, key, err
}

// budgetCollector exports what the live budgets hold.
type budgetCollector struct{ bytes, fetches, limit *prometheus.Desc }

func newBudgetCollector() *budgetCollector {
	return &budgetCollector{
		bytes:   prometheus.NewDesc("imgedge_source_budget_held_bytes", "Bytes of originals in flight (fetched or waiting to be processed).", nil, nil),
		fetches: prometheus.NewDesc("imgedge_source_budget_leases", "Originals in flight.", nil, nil),
		limit:   prometheus.NewDesc("imgedge_source_budget_bytes", "The budget for originals in flight.", nil, nil),
	}
}

func (c *budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.fetches
	ch <- c.limit
}

func (c *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	var held, leases, limit int64
	eachPooled(sourceBudgets, func(b *budget.Budget) {
		h, n := b.Held()
		held, leases, limit = held+h, leases+n, limit+b.Limit()
	})
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(held))
	ch <- prometheus.MustNewConstMetric(c.fetches, prometheus.GaugeValue, float64(leases))
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(limit))
}
