package sequencer_test

import (
	"bytes"
	"context"
	"net"
	"net/mail"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/touchline/touchline/internal/inbound"
	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/sequencer"
)

// BenchmarkInbound answers 1,000 sent touches with human replies, 8 at a
// time, and reports inbound messages per second and the reply-to-stop
// latency: from a reply reaching Touchline to its enrollment being stopped
// (the inbox stops it in the transaction that stores the message).
//
//	TOUCHLINE_TEST_DATABASE_URL=$(deploy/local-postgres.sh url) go test -run '^$' -bench Inbound -benchtime 1x ./sequencer
//
//	via=handler: the inbox called directly, 8 at a time.
//	via=smtp:    through the inbound SMTP server (go-smtp) on loopback, over
//	             8 connections, one message per transaction: what a bounce
//	             or forwarded reply pays end to end.
func BenchmarkInbound(b *testing.B) {
	for _, via := range []string{"handler", "smtp"} {
		b.Run("via="+via, func(b *testing.B) { benchInbound(b, via) })
	}
}

func benchInbound(b *testing.B, via string) {
	const n = 1000
	for b.Loop() {
		b.StopTimer()
		r := newBenchRig(b, benchConfig{sendWorkers: 16, recipients: n})
		m := r.mailbox()
		// Two steps, so that every enrollment is still active when its
		// reply comes.
		c, _, err := r.op.CreateCadence(context.Background(), r.ws.ID, sequencer.Spec{Name: "inbound", Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID},
			Steps: []sequencer.Step{{Channel: "email", Delay: "0", Subject: "Hello {{first_name}}", Body: "Hi."}, {Channel: "email", Delay: "1h", Subject: "Again", Body: "Hi."}}})
		if err != nil {
			b.Fatal(err)
		}
		r.launch(c)
		r.enroll(c, leadInputs("", 0, n), "now")
		r.preverify()
		msgs := r.waitMessages(n, 2*time.Minute)
		var replies [][]byte
		for _, msg := range msgs {
			pm, err := mail.ReadMessage(bytes.NewReader(msg.Data))
			if err != nil {
				b.Fatal(err)
			}
			replies = append(replies, reply(msg.To[0], "ana@sender.test", pm.Header.Get("Message-ID"), "Re: "+pm.Header.Get("Subject"), "Sounds good, let's talk."))
		}
		inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River}
		deliver := func(raw []byte) error {
			return inbox.HandleMessage(context.Background(), inbound.Message{Source: "smtp", Raw: raw})
		}
		if via == "smtp" {
			srv := inbound.NewSMTPServer(inbound.SMTPConfig{Domains: []string{"bounces.sender.test"}, Hostname: "in.sender.test", MaxConnsPerIP: 16}, inbox)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()
			deliver = func(raw []byte) error {
				c, err := smtp.Dial(ln.Addr().String())
				if err != nil {
					return err
				}
				defer c.Close()
				if err := c.SendMail("lead@prospect.test", []string{"replies@bounces.sender.test"}, bytes.NewReader(raw)); err != nil {
					return err
				}
				return c.Quit()
			}
		}
		lat := make([]time.Duration, len(replies))
		work := make(chan int)
		var wg sync.WaitGroup
		b.StartTimer()
		start := time.Now()
		for range 8 {
			wg.Go(func() {
				for i := range work {
					t0 := time.Now()
					if err := deliver(replies[i]); err != nil {
						b.Error(err)
					}
					lat[i] = time.Since(t0)
				}
			})
		}
		for i := range replies {
			work <- i
		}
		close(work)
		wg.Wait()
		el := time.Since(start)
		b.StopTimer()
		var stopped int
		r.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM enrollments WHERE state = 'stopped' AND state_reason = 'replied'`).Scan(&stopped)
		if stopped != n {
			b.Fatalf("%d of %d enrollments stopped", stopped, n)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(len(replies))/el.Seconds(), "msgs/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "stop-p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "stop-p99-ms")
		b.StartTimer()
	}
}
