package metering

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

type sqliteStore struct {
	db        *sql.DB
	insertSQL string
	usageSQL  string
}

var dollarParam = regexp.MustCompile(`\$(\d+)`)

// sqliteSQL rewrites $n placeholders to SQLite's ?n.
func sqliteSQL(s string) string { return dollarParam.ReplaceAllString(s, "?$1") }

// OpenSQLite opens (creating if needed) the SQLite database at path in WAL
// mode with full fsync on commit and a busy timeout, and creates its schema.
func OpenSQLite(path string) (Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("metering: bad SQLite path %q", path)
	}
	dsn := "file:" + path +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("metering: opening SQLite %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	for _, stmt := range schemaSQL {
		if _, err := db.Exec(stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("metering: creating SQLite schema in %s: %w", path, err)
		}
	}
	return &sqliteStore{db: db, insertSQL: sqliteSQL(insertSQL), usageSQL: sqliteSQL(usageSQL)}, nil
}

func (s *sqliteStore) Insert(ctx context.Context, events []Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.insertSQL)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	var added int64
	for i := range events {
		res, err := stmt.ExecContext(ctx, insertArgs(&events[i])...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		added += n
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return int(added), nil
}

func (s *sqliteStore) Usage(ctx context.Context, q Query) ([]Bucket, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.usageSQL, usageArgs(q)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanBuckets(rows)
}

func (s *sqliteStore) Close() error { return s.db.Close() }
