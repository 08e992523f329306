package inbound

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// literal is the imap.LiteralReader the memory server's Append takes.
type literal struct {
	*bytes.Reader
}

func (l literal) Size() int64 { return int64(l.Len()) }

type imapWorld struct {
	user *imapmemserver.User
	acct IMAPAccount
	wire *lockedBuffer // everything the server read and wrote
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startIMAP serves go-imap's in-memory server on 127.0.0.1:0 with one user
// and an empty INBOX.
func startIMAP(t *testing.T) *imapWorld {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("rep@touchline.test", "secret")
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	wire := &lockedBuffer{}
	srv := imapserver.New(&imapserver.Options{
		DebugWriter: wire,
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
		Logger:       slog.NewLogLogger(slog.NewTextHandler(t.Output(), nil).WithGroup("imapserver"), slog.LevelInfo),
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	host, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	return &imapWorld{user: user, wire: wire, acct: IMAPAccount{
		ID: 3, Host: host, Port: p, TLS: "none",
		Username: "rep@touchline.test", Password: "secret",
	}}
}

func (w *imapWorld) append(t *testing.T, date time.Time, subject string, flags ...imap.Flag) {
	t.Helper()
	raw := fmt.Sprintf("From: jane@prospect.test\r\nTo: rep@touchline.test\r\nSubject: %s\r\nMessage-ID: <%s@prospect.test>\r\n\r\nSounds good.\r\n", subject, subject)
	if _, err := w.user.Append("INBOX", literal{bytes.NewReader([]byte(raw))}, &imap.AppendOptions{Time: date, Flags: flags}); err != nil {
		t.Fatal(err)
	}
}

func (w *imapWorld) status(t *testing.T) *imap.StatusData {
	t.Helper()
	st, err := w.user.Status("INBOX", &imap.StatusOptions{NumMessages: true, NumUnseen: true, UIDNext: true, UIDValidity: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func subjects(msgs []Message) []string {
	var out []string
	for _, m := range msgs {
		_, rest, _ := bytes.Cut(m.Raw, []byte("Subject: "))
		s, _, _ := bytes.Cut(rest, []byte("\r\n"))
		out = append(out, string(s))
	}
	return out
}

func TestIMAPPollAgainstMemServer(t *testing.T) {
	t.Parallel()
	w := startIMAP(t)
	now := time.Now()
	w.append(t, now.Add(-3*time.Hour), "one")
	w.append(t, now.Add(-2*time.Hour), "two", imap.FlagSeen)
	w.append(t, now.Add(-1*time.Hour), "three", imap.FlagFlagged)
	before := w.status(t)

	rec := &recorder{}
	p := &Poller{Handler: rec, Timeout: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	var saved []PollState
	save := func(s PollState) error { saved = append(saved, s); return nil }

	st, err := p.Poll(t.Context(), w.acct, PollState{}, save)
	if err != nil {
		t.Fatal(err)
	}
	if got := subjects(rec.messages()); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("first poll delivered %v", got)
	}
	want := PollState{UIDValidity: before.UIDValidity, LastUID: 3}
	if st != want || len(saved) != 3 || saved[2] != want {
		t.Fatalf("state %v, saved %v", st, saved)
	}
	m := rec.messages()[0]
	if m.Source != "imap:3" || m.UID != 1 || !m.Received.Equal(now.Add(-3*time.Hour).Truncate(time.Second)) ||
		!bytes.HasSuffix(m.Raw, []byte("\r\n\r\nSounds good.\r\n")) {
		t.Errorf("first message %+v", m)
	}

	// Polling is read-only: \Seen is untouched on every message.
	after := w.status(t)
	if *after.NumUnseen != *before.NumUnseen || *after.NumUnseen != 2 || *after.NumMessages != 3 {
		t.Fatalf("unseen %d -> %d, messages %d", *before.NumUnseen, *after.NumUnseen, *after.NumMessages)
	}

	rec.msgs = nil
	st, err = p.Poll(t.Context(), w.acct, st, save)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.messages(); len(got) != 0 || st != want {
		t.Fatalf("second poll delivered %v, state %v", subjects(got), st)
	}

	w.append(t, now, "four")
	w.append(t, now, "five")
	st, err = p.Poll(t.Context(), w.acct, st, save)
	if err != nil {
		t.Fatal(err)
	}
	if got := subjects(rec.messages()); !slices.Equal(got, []string{"four", "five"}) || st.LastUID != 5 {
		t.Fatalf("third poll delivered %v, state %v", got, st)
	}
	if un := *w.status(t).NumUnseen; un != 4 {
		t.Fatalf("unseen after polls: %d, want 4", un)
	}

	// On the wire: EXAMINE and BODY.PEEK[] only, nothing that writes.
	wire := w.wire.String()
	for _, must := range []string{" EXAMINE INBOX", "BODY.PEEK[]", " UID SEARCH ", " LOGOUT"} {
		if !strings.Contains(wire, must) {
			t.Errorf("wire lacks %q", must)
		}
	}
	for _, never := range []string{" SELECT ", " STORE ", " UID STORE ", " EXPUNGE", " MOVE ", " COPY ", " DELETE ", " CLOSE"} {
		if strings.Contains(wire, never) {
			t.Errorf("wire has %q", never)
		}
	}
}

func TestIMAPHandlerErrorResumes(t *testing.T) {
	t.Parallel()
	w := startIMAP(t)
	for i := range 4 {
		w.append(t, time.Now(), fmt.Sprintf("m%d", i+1))
	}
	var (
		failUID uint32 = 3
		got     []string
	)
	h := HandlerFunc(func(_ context.Context, m Message) error {
		if m.UID == failUID {
			return fmt.Errorf("store unavailable")
		}
		got = append(got, subjects([]Message{m})...)
		return nil
	})
	p := &Poller{Handler: h, Timeout: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	var durable PollState
	save := func(s PollState) error { durable = s; return nil }

	st, err := p.Poll(t.Context(), w.acct, durable, save)
	if err == nil || st.LastUID != 2 || durable != st || !slices.Equal(got, []string{"m1", "m2"}) {
		t.Fatalf("err %v, state %v, saved %v, delivered %v", err, st, durable, got)
	}
	failUID = 0
	st, err = p.Poll(t.Context(), w.acct, durable, save)
	if err != nil || st.LastUID != 4 || !slices.Equal(got, []string{"m1", "m2", "m3", "m4"}) {
		t.Fatalf("err %v, state %v, delivered %v", err, st, got)
	}
}

func TestIMAPUIDValidityChange(t *testing.T) {
	t.Parallel()
	w := startIMAP(t)
	now := time.Now()
	w.append(t, now.Add(-30*24*time.Hour), "old")
	rec := &recorder{}
	p := &Poller{Handler: rec, Timeout: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	st, err := p.Poll(t.Context(), w.acct, PollState{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	oldValidity := st.UIDValidity

	// The rep's mailbox is re-created: new UIDVALIDITY, everything renumbered.
	if err := w.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := w.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	w.append(t, now.Add(-30*24*time.Hour), "old")
	w.append(t, now.Add(-20*24*time.Hour), "older reply")
	w.append(t, now.Add(-2*24*time.Hour), "recent reply")
	w.append(t, now.Add(-time.Hour), "fresh reply")

	rec.msgs = nil
	st, err = p.Poll(t.Context(), w.acct, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.UIDValidity == oldValidity || st.LastUID != 4 {
		t.Fatalf("state %v (old validity %d)", st, oldValidity)
	}
	if got := subjects(rec.messages()); !slices.Equal(got, []string{"recent reply", "fresh reply"}) {
		t.Fatalf("after UIDVALIDITY change delivered %v", got)
	}
	rec.msgs = nil
	if _, err := p.Poll(t.Context(), w.acct, st, nil); err != nil || len(rec.messages()) != 0 {
		t.Fatalf("poll after resync: err %v, delivered %v", err, subjects(rec.messages()))
	}
}

func TestIMAPBadPassword(t *testing.T) {
	t.Parallel()
	w := startIMAP(t)
	acct := w.acct
	acct.Password = "wrong"
	p := &Poller{Handler: &recorder{}, Timeout: 10 * time.Second}
	st, err := p.Poll(t.Context(), acct, PollState{UIDValidity: 1, LastUID: 5}, nil)
	if err == nil || st != (PollState{UIDValidity: 1, LastUID: 5}) {
		t.Fatalf("state %v, err %v", st, err)
	}
}
