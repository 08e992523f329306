package sequencer_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/netpolicy"
	"github.com/touchline/touchline/sequencer"
)

// counting is a loopback HTTP server that counts what reaches it.
func counting(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// strict is the rig's engine as production runs it: no network allowed
// beyond public addresses.
func (r *rig) strict() *sequencer.Operator {
	return &sequencer.Operator{Engine: &sequencer.Engine{Store: r.st, Secrets: r.op.Secrets, Logger: r.op.Logger}, River: r.op.River, Resolver: r.res}
}

// Issue 13, item 2: POST /v1/webhooks took loopback, 0.0.0.0, mapped
// IPv6, cloud metadata and URLs with credentials; deliveries reached them,
// and a redirect to 127.0.0.1 was followed.
func TestWebhookSSRF(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	inner, innerHits := counting(t, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(inner.URL, "http://"))
	strict := r.strict()
	for _, u := range []string{
		inner.URL, "http://localhost:" + port, "http://0.0.0.0:" + port, "http://[::ffff:127.0.0.1]:" + port,
		"http://169.254.169.254/latest/meta-data/", "http://[::1]:" + port, "http://100.100.100.200/",
	} {
		_, _, err := strict.CreateWebhook(ctx, r.ws.ID, u, []string{"lead.promoted"})
		var br *sequencer.BadRequest
		if !errors.As(err, &br) || !strings.Contains(err.Error(), "refused by policy") {
			t.Errorf("webhook %s: %v", u, err)
		}
	}
	_, _, err := strict.CreateWebhook(ctx, r.ws.ID, "https://user:pass@hooks.example.com/x", []string{"lead.promoted"})
	if br := (*sequencer.BadRequest)(nil); !errors.As(err, &br) || !strings.Contains(err.Error(), "credentials in the URL are refused") {
		t.Errorf("webhook with credentials: %v", err)
	}

	// At delivery, the address is judged again: a hook stored before (or
	// whose name now resolves to loopback) is refused, nothing is sent.
	hook, _, err := r.op.CreateWebhook(ctx, r.ws.ID, inner.URL+"/hook", []string{"lead.promoted"})
	if err != nil {
		t.Fatal(err)
	}
	args := sequencer.WebhookArgs{Workspace: r.ws.ID, WebhookID: hook.ID, EventID: "evt_1", Event: "lead.promoted", Payload: []byte(`{}`)}
	err = (&sequencer.WebhookWorker{Engine: strict.Engine}).Work(ctx, &river.Job[sequencer.WebhookArgs]{Args: args})
	if !errors.Is(err, netpolicy.ErrRefused) || innerHits.Load() != 0 {
		t.Fatalf("delivery to loopback under the default policy: %v (%d requests arrived)", err, innerHits.Load())
	}
	// Loopback allowed (a lab): a redirect to another address is not
	// followed, and the delivery counts as failed.
	redirector, _ := counting(t, func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, inner.URL+"/stolen", http.StatusFound)
	})
	hook, _, err = r.op.CreateWebhook(ctx, r.ws.ID, redirector.URL, []string{"lead.promoted"})
	if err != nil {
		t.Fatal(err)
	}
	args.WebhookID = hook.ID
	err = (&sequencer.WebhookWorker{Engine: r.op.Engine}).Work(ctx, &river.Job[sequencer.WebhookArgs]{Args: args})
	if err == nil || !strings.Contains(err.Error(), "302") || innerHits.Load() != 0 {
		t.Fatalf("redirect: %v (%d requests reached its target)", err, innerHits.Load())
	}
}

// Issue 13, item 3: a mailbox on 127.0.0.1 made Touchline submit there
// (AUTH PLAIN, the signed message) and log in by IMAP, and imap_error told
// "connection refused" from "unknown tag HTTP/1.1".
func TestMailboxSSRF(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	web, webHits := counting(t, nil)
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(web.URL, "http://"))
	p, _ := strconv.Atoi(port)
	strict := r.strict()
	zero := 0
	for _, in := range []sequencer.MailboxInput{
		{SMTPHost: host, SMTPPort: p},
		{SMTPHost: "localhost", SMTPPort: p},
		{SMTPHost: "::ffff:127.0.0.1", SMTPPort: p},
		{SMTPHost: "169.254.169.254", SMTPPort: 25},
		{SMTPHost: "smtp.example.com", SMTPPort: 587, IMAPHost: "127.0.0.1", IMAPPort: p},
		{SMTPHost: "smtp.example.com", SMTPPort: 587, IMAPHost: "0.0.0.0", IMAPPort: p},
	} {
		in.FromAddress, in.MinSpacingSeconds, in.JitterSeconds = "ana@sender.test", &zero, &zero
		_, err := strict.CreateMailbox(ctx, r.ws.ID, in)
		var br *sequencer.BadRequest
		if !errors.As(err, &br) || !strings.Contains(err.Error(), "refused by policy") {
			t.Errorf("mailbox smtp %s imap %s: %v", in.SMTPHost, in.IMAPHost, err)
		}
	}

	// Submission is judged at dial time: no AUTH, no message.
	sender := &sequencer.SMTPSender{HeloName: "app.sender.test"}
	err := sender.Send(ctx, sequencer.Submission{Host: host, Port: p, Security: "none", Username: "u", Password: "p"}, "a@sender.test", "b@prospect.test", []byte("Subject: x\r\n\r\nx\r\n"))
	if !errors.Is(err, netpolicy.ErrRefused) || !strings.Contains(err.Error(), "refused by policy") || webHits.Load() != 0 {
		t.Fatalf("submission to loopback: %v (%d connections arrived)", err, webHits.Load())
	}

	// IMAP: a mailbox stored with a loopback host (as if its name had been
	// rebound) is not polled under the default policy.
	imapMailbox := func(port int) int64 {
		ip, _ := r.world.HostIP("smtp.sender.test")
		m, err := r.op.CreateMailbox(ctx, r.ws.ID, sequencer.MailboxInput{FromAddress: "imap" + strconv.Itoa(port) + "@sender.test", SMTPHost: ip.String(), SMTPPort: r.world.SMTPPort(),
			MinSpacingSeconds: &zero, JitterSeconds: &zero, IMAPHost: "127.0.0.1", IMAPPort: port, IMAPSecurity: "none", IMAPUsername: "ana", IMAPPassword: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	poll := func(op *sequencer.Operator, id int64) string {
		t.Helper()
		w := &sequencer.PollIMAPWorker{Inbox: &sequencer.Inbox{Engine: op.Engine}}
		if err := w.Work(ctx, &river.Job[sequencer.PollIMAPArgs]{Args: sequencer.PollIMAPArgs{Workspace: r.ws.ID, MailboxID: id}}); err != nil {
			t.Fatal(err)
		}
		m, err := r.st.GetMailbox(ctx, r.ws.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return m.IMAPError
	}
	onWeb := imapMailbox(p)
	if got := poll(strict, onWeb); !strings.Contains(got, "refused by policy") || webHits.Load() != 0 {
		t.Fatalf("IMAP poll of loopback: %q (%d connections arrived)", got, webHits.Load())
	}
	// Loopback allowed (a lab): what answered is still not told. An HTTP
	// server and a closed port read alike to the tenant.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	_, closedPort, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	cp, _ := strconv.Atoi(closedPort)
	httpErr, closedErr := poll(r.op, onWeb), poll(r.op, imapMailbox(cp))
	t.Logf("imap_error: HTTP server %q; closed port %q", httpErr, closedErr)
	for _, got := range []string{httpErr, closedErr} {
		if got == "" || strings.Contains(got, "HTTP") || strings.Contains(got, "refused") || strings.Contains(got, "tag") || strings.Contains(got, "400") {
			t.Errorf("imap_error tells what answered: %q", got)
		}
	}
	if !strings.Contains(closedErr, "could not connect") {
		t.Errorf("closed port: %q", closedErr)
	}
}
