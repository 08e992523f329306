// Package storetest gives a test its own database at the current schema.
package storetest

import (
	"context"
	"testing"

	"github.com/touchline/touchline/internal/pgtest"
	"github.com/touchline/touchline/internal/store"
)

// URL returns the URL of a fresh database, migrated, dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	return pgtest.New(t, pgtest.Options{SchemaVersion: store.SchemaVersion(), Migrate: func(ctx context.Context, url string) error {
		st, err := store.Open(ctx, url)
		if err != nil {
			return err
		}
		defer st.Close()
		_, err = st.Migrate(ctx)
		return err
	}})
}

// New returns a store on a fresh database, and its URL.
func New(t testing.TB) (*store.Store, string) {
	t.Helper()
	url := URL(t)
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, url
}
