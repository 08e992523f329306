package sendertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/netpolicy"
	"github.com/touchline/touchline/internal/secret"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
)

// Engine is a sequencer engine that sends through the world's submission
// host (STARTTLS with the world's certificate) and gates on its verifier:
// secrets sealed, VERP and unsubscribe keys derived from key (32 bytes),
// bounces to bounces.sender.test, links to https://touchline.sender.test.
func (w *World) Engine(tb testing.TB, st *store.Store, key []byte) *sequencer.Engine {
	tb.Helper()
	box, err := secret.NewBox(key)
	if err != nil {
		tb.Fatal(err)
	}
	return &sequencer.Engine{Store: st, Verifier: w.Verifier, Secrets: box,
		VERPKey: secret.Derive(key, "verp"), UnsubscribeKey: secret.Derive(key, "unsub"),
		BounceDomain: "bounces.sender.test", PublicURL: "https://touchline.sender.test",
		// The simulated world, its IMAP server and the tests' webhook
		// receivers are on loopback: allowed here by name, refused by
		// default.
		Outbound: netpolicy.New(netpolicy.Loopback...),
		Sender:   &sequencer.SMTPSender{HeloName: "app.sender.test", InsecureSkipVerify: true, Dialer: &mailsim.Dialer{}}}
}

// StartRiver starts rc and stops it, within 10 s, when the test ends.
func StartRiver(tb testing.TB, rc *river.Client[pgx.Tx]) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := rc.Start(ctx); err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		sctx, c2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer c2()
		rc.Stop(sctx)
	})
}

// AllDay keeps a test independent of the hour it runs at: every day,
// 00:00 to 23:59, in a zone where it is now about noon.
func AllDay() sequencer.WindowSpec {
	off := 12 - time.Now().UTC().Hour()
	tz := "UTC"
	if off > 0 {
		tz = fmt.Sprintf("Etc/GMT-%d", off) // POSIX signs are inverted
	} else if off < 0 {
		tz = fmt.Sprintf("Etc/GMT+%d", -off)
	}
	return sequencer.WindowSpec{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Start: "00:00", End: "23:59", Timezone: tz}
}
