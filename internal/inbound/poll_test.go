package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeMailbox is an in-memory mailbox behind the poll seam. It answers
// "n:*" the way RFC 3501 servers do, including the highest UID when n is
// above it.
type fakeMailbox struct {
	mu          sync.Mutex
	uidValidity uint32
	uidNext     uint32
	msgs        []fakeMsg
	bodies      int // BODY.PEEK[] fetches served
}

type fakeMsg struct {
	uid  uint32
	date time.Time
	raw  []byte
	gone bool // expunged between SEARCH and FETCH
}

func (f *fakeMailbox) add(date time.Time, raw string) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.uidNext == 0 {
		f.uidNext = 1
	}
	uid := f.uidNext
	f.uidNext++
	f.msgs = append(f.msgs, fakeMsg{uid: uid, date: date, raw: []byte(raw)})
	return uid
}

func (f *fakeMailbox) examine(context.Context, string) (mailboxInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return mailboxInfo{UIDValidity: f.uidValidity, UIDNext: f.uidNext}, nil
}

func (f *fakeMailbox) uidsAfter(_ context.Context, after uint32) ([]uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uint32
	for _, m := range f.msgs {
		if m.uid > after {
			out = append(out, m.uid)
		}
	}
	if len(out) == 0 && len(f.msgs) > 0 {
		out = append(out, f.msgs[len(f.msgs)-1].uid) // "n:*" quirk
	}
	return out, nil
}

func (f *fakeMailbox) uidsSince(_ context.Context, day time.Time) ([]uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	y, mo, d := day.Date()
	day = time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	var out []uint32
	for _, m := range f.msgs {
		if !m.date.Before(day) {
			out = append(out, m.uid)
		}
	}
	return out, nil
}

func (f *fakeMailbox) meta(_ context.Context, uids []uint32) ([]messageMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []messageMeta
	for _, m := range f.msgs {
		if slices.Contains(uids, m.uid) {
			out = append(out, messageMeta{UID: m.uid, Size: int64(len(m.raw)), InternalDate: m.date})
		}
	}
	return out, nil
}

func (f *fakeMailbox) body(_ context.Context, uid uint32, max int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies++
	for _, m := range f.msgs {
		if m.uid == uid && !m.gone {
			if int64(len(m.raw)) > max {
				return nil, errTooLarge
			}
			return slices.Clone(m.raw), nil
		}
	}
	return nil, nil
}

func (f *fakeMailbox) close() error { return nil }

// pollRecorder is a Handler that fails on the UIDs in failOn.
type pollRecorder struct {
	mu     sync.Mutex
	got    []Message
	failOn map[uint32]bool
}

func (r *pollRecorder) HandleMessage(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failOn[m.UID] {
		return fmt.Errorf("handler refuses uid %d", m.UID)
	}
	r.got = append(r.got, m)
	return nil
}

func (r *pollRecorder) take() []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var uids []uint32
	for _, m := range r.got {
		uids = append(uids, m.UID)
	}
	r.got = nil
	return uids
}

func fakePoller(t *testing.T, mb *fakeMailbox, h Handler, now time.Time) *Poller {
	return &Poller{
		Handler: h,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
		Now:     func() time.Time { return now },
		dial:    func(context.Context, IMAPAccount) (mailbox, error) { return mb, nil },
	}
}

var pollNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func TestPollDeliversNewMessagesInOrder(t *testing.T) {
	t.Parallel()
	mb := &fakeMailbox{uidValidity: 7}
	for i := range 3 {
		mb.add(pollNow.Add(-time.Duration(30-i)*24*time.Hour), fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i))
	}
	rec := &pollRecorder{}
	p := fakePoller(t, mb, rec, pollNow)
	acct := IMAPAccount{ID: 42}

	var saved []PollState
	save := func(s PollState) error { saved = append(saved, s); return nil }

	st, err := p.Poll(t.Context(), acct, PollState{}, save)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("first poll delivered %v", got)
	}
	if st != (PollState{7, 3}) || !slices.Equal(saved, []PollState{{7, 1}, {7, 2}, {7, 3}}) {
		t.Fatalf("state %v, saved %v", st, saved)
	}

	// Nothing new: "4:*" still matches UID 3, which must not come again.
	st, err = p.Poll(t.Context(), acct, st, save)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 0 || st != (PollState{7, 3}) {
		t.Fatalf("second poll delivered %v, state %v", got, st)
	}

	mb.add(pollNow, "Subject: new\r\n\r\nx\r\n")
	st, err = p.Poll(t.Context(), acct, st, save)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []uint32{4}) || st != (PollState{7, 4}) {
		t.Fatalf("third poll delivered %v, state %v", got, st)
	}
}

func TestPollMessageFields(t *testing.T) {
	t.Parallel()
	mb := &fakeMailbox{uidValidity: 9}
	date := pollNow.Add(-time.Hour)
	mb.add(date, "Subject: re\r\n\r\nsure\r\n")
	rec := &pollRecorder{}
	if _, err := fakePoller(t, mb, rec, pollNow).Poll(t.Context(), IMAPAccount{ID: 5}, PollState{}, nil); err != nil {
		t.Fatal(err)
	}
	m := rec.got[0]
	if m.Source != "imap:5" || m.UID != 1 || m.UIDValidity != 9 || !m.Received.Equal(date) || string(m.Raw) != "Subject: re\r\n\r\nsure\r\n" {
		t.Fatalf("%+v", m)
	}
}

func TestPollStopsAtHandlerErrorAndResumes(t *testing.T) {
	t.Parallel()
	mb := &fakeMailbox{uidValidity: 1}
	for range 5 {
		mb.add(pollNow, "Subject: x\r\n\r\nx\r\n")
	}
	rec := &pollRecorder{failOn: map[uint32]bool{3: true}}
	p := fakePoller(t, mb, rec, pollNow)

	var durable PollState // what a database would hold
	save := func(s PollState) error { durable = s; return nil }

	st, err := p.Poll(t.Context(), IMAPAccount{}, durable, save)
	if err == nil {
		t.Fatal("Poll returned no error for a failing handler")
	}
	if got := rec.take(); !slices.Equal(got, []uint32{1, 2}) {
		t.Fatalf("delivered %v before the failure", got)
	}
	if st != (PollState{1, 2}) || durable != st {
		t.Fatalf("returned %v, saved %v; want both {1 2}", st, durable)
	}

	// A restarted process resumes from the saved state.
	rec.mu.Lock()
	rec.failOn = nil
	rec.mu.Unlock()
	st, err = p.Poll(t.Context(), IMAPAccount{}, durable, save)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []uint32{3, 4, 5}) || st != (PollState{1, 5}) {
		t.Fatalf("resumed with %v, state %v", got, st)
	}
}

func TestPollSaveErrorStops(t *testing.T) {
	t.Parallel()
	mb := &fakeMailbox{uidValidity: 1}
	mb.add(pollNow, "a")
	mb.add(pollNow, "b")
	rec := &pollRecorder{}
	errDB := errors.New("db down")
	st, err := fakePoller(t, mb, rec, pollNow).Poll(t.Context(), IMAPAccount{}, PollState{}, func(PollState) error { return errDB })
	if !errors.Is(err, errDB) || st != (PollState{UIDValidity: 1}) {
		t.Fatalf("state %v, err %v", st, err)
	}
	// The one message handed over will come again: that is the at-least-once contract.
	if got := rec.take(); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("delivered %v", got)
	}
}

func TestPollUIDValidityChange(t *testing.T) {
	t.Parallel()
	// The mailbox was rebuilt: new UIDVALIDITY, old mail renumbered.
	mb := &fakeMailbox{uidValidity: 200}
	mb.add(pollNow.Add(-60*24*time.Hour), "old")                // 1
	mb.add(pollNow.Add(-7*24*time.Hour-time.Hour), "just over") // 2: same day as the cut, 1h before it
	mb.add(pollNow.Add(-6*24*time.Hour), "recent")              // 3
	mb.add(pollNow.Add(-time.Hour), "today")                    // 4
	rec := &pollRecorder{}
	p := fakePoller(t, mb, rec, pollNow)

	st, err := p.Poll(t.Context(), IMAPAccount{}, PollState{UIDValidity: 100, LastUID: 9000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []uint32{3, 4}) {
		t.Fatalf("delivered %v after UIDVALIDITY change; want only the last 7 days", got)
	}
	if st != (PollState{200, 4}) {
		t.Fatalf("state %v", st)
	}

	// With no recent mail, the baseline still moves to UIDNEXT-1.
	mb2 := &fakeMailbox{uidValidity: 300}
	mb2.add(pollNow.Add(-60*24*time.Hour), "old")
	st, err = fakePoller(t, mb2, rec, pollNow).Poll(t.Context(), IMAPAccount{}, PollState{UIDValidity: 200, LastUID: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 0 || st != (PollState{300, 1}) {
		t.Fatalf("delivered %v, state %v", got, st)
	}
}

func TestPollSkipsOversizedAndVanished(t *testing.T) {
	t.Parallel()
	mb := &fakeMailbox{uidValidity: 1}
	mb.add(pollNow, "small")
	mb.add(pollNow, "this one is far too large")
	mb.add(pollNow, "gone")
	mb.add(pollNow, "tail")
	mb.msgs[2].gone = true
	rec := &pollRecorder{}
	p := fakePoller(t, mb, rec, pollNow)
	p.MaxMessageBytes = 10

	st, err := p.Poll(t.Context(), IMAPAccount{}, PollState{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []uint32{1, 4}) || st != (PollState{1, 4}) {
		t.Fatalf("delivered %v, state %v", got, st)
	}
	if mb.bodies != 3 {
		t.Errorf("fetched %d bodies; the oversized one should be skipped on RFC822.SIZE", mb.bodies)
	}
}

func TestPollHonoursContext(t *testing.T) {
	t.Parallel()
	mb := &fakeMailbox{uidValidity: 1}
	mb.add(pollNow, "a")
	mb.add(pollNow, "b")
	ctx, cancel := context.WithCancel(t.Context())
	h := HandlerFunc(func(context.Context, Message) error { cancel(); return nil })
	st, err := fakePoller(t, mb, h, pollNow).Poll(ctx, IMAPAccount{}, PollState{}, nil)
	if !errors.Is(err, context.Canceled) || st != (PollState{1, 1}) {
		t.Fatalf("state %v, err %v", st, err)
	}
}
