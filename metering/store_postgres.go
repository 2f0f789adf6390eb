package metering

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// pgPoolSize is how many connections a PostgreSQL store opens at most.
const pgPoolSize = 4

// pgStore keeps a small pool of pgx connections. (pgxpool would need
// github.com/jackc/puddle/v2, which this module does not require.)
type pgStore struct {
	cfg *pgx.ConnConfig
	sem chan struct{}

	mu     sync.Mutex
	idle   []*pgx.Conn
	closed bool
}

var errStoreClosed = errors.New("metering: store closed")

// OpenPostgres connects to PostgreSQL at dsn and creates the schema.
func OpenPostgres(ctx context.Context, dsn string) (Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("metering: parsing PostgreSQL DSN: %w", err) // pgx does not echo the password
	}
	s := &pgStore{cfg: cfg, sem: make(chan struct{}, pgPoolSize)}
	err = s.with(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			// Serialise concurrent schema creation by several collectors.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(727746583)`); err != nil {
				return err
			}
			for _, stmt := range schemaSQL {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("metering: creating PostgreSQL schema: %w", err)
	}
	return s, nil
}

// with runs fn on a pooled connection.
func (s *pgStore) with(ctx context.Context, fn func(*pgx.Conn) error) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errStoreClosed
	}
	var c *pgx.Conn
	if n := len(s.idle); n > 0 {
		c, s.idle = s.idle[n-1], s.idle[:n-1]
	}
	s.mu.Unlock()
	if c == nil {
		var err error
		if c, err = pgx.ConnectConfig(ctx, s.cfg); err != nil {
			return err
		}
	}
	err := fn(c)

	s.mu.Lock()
	keep := !s.closed && !c.IsClosed() && c.PgConn().TxStatus() == 'I'
	if keep {
		s.idle = append(s.idle, c)
	}
	s.mu.Unlock()
	if !keep {
		c.Close(context.Background())
	}
	return err
}

func (s *pgStore) Insert(ctx context.Context, events []Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	var added int64
	err := s.with(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for i := range events {
				b.Queue(insertSQL, insertArgs(&events[i])...)
			}
			br := tx.SendBatch(ctx, b)
			for range events {
				tag, err := br.Exec()
				if err != nil {
					br.Close()
					return err
				}
				added += tag.RowsAffected()
			}
			return br.Close()
		})
	})
	if err != nil {
		return 0, err
	}
	return int(added), nil
}

func (s *pgStore) Usage(ctx context.Context, q Query) ([]Bucket, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	var out []Bucket
	err := s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, usageSQL, usageArgs(q)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = scanBuckets(rows)
		return err
	})
	return out, err
}

func (s *pgStore) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	var err error
	for _, c := range idle {
		err = errors.Join(err, c.Close(context.Background()))
	}
	return err
}
