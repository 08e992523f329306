package inbound

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"
)

// IMAP defaults, used where Poller or IMAPAccount leave a field zero.
const (
	DefaultIMAPFolder       = "INBOX"
	DefaultIMAPTimeout      = time.Minute
	DefaultMaxIMAPBytes     = 25 << 20
	DefaultResyncWindow     = 7 * 24 * time.Hour
	imapMetaBatch       int = 500
)

// ErrIMAPUnavailable is returned by Poll when this build has no IMAP client
// (see imap_nogoimap.go).
var ErrIMAPUnavailable = errors.New("inbound: imap client not built in")

// IMAPAccount is one rep's mailbox.
type IMAPAccount struct {
	ID   int64
	Host string
	// Port defaults to 993 for TLS "tls" and 143 otherwise.
	Port int
	// TLS is "tls" (implicit TLS, the default), "starttls" or "none".
	TLS                string
	Username, Password string
	// Folder defaults to INBOX.
	Folder string
}

// PollState is where a mailbox was read up to. The zero value means
// "never polled": the first poll delivers every message in the folder.
type PollState struct {
	UIDValidity uint32
	LastUID     uint32
}

// ContextDialer opens the TCP connection to an IMAP server; *net.Dialer is one.
type ContextDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Poller reads new mail from IMAP mailboxes, read-only, and hands it to
// Handler. A Poller holds no per-account state: the caller keeps each
// account's PollState.
type Poller struct {
	Handler Handler
	// InsecureSkipVerify skips certificate checks (self-hosted servers
	// with self-signed certificates only).
	InsecureSkipVerify bool
	// Dialer defaults to a *net.Dialer.
	Dialer ContextDialer
	// Timeout bounds each IMAP command and the connection set-up
	// (default 1 minute). Handler time is not counted.
	Timeout time.Duration
	// MaxMessageBytes skips larger messages with a log line (default 25 MB).
	MaxMessageBytes int64
	// ResyncWindow is how far back, by INTERNALDATE, messages are
	// re-delivered after a UIDVALIDITY change (default 7 days).
	ResyncWindow time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// dial replaces the IMAP client in tests of the poll logic.
	dial func(ctx context.Context, acct IMAPAccount) (mailbox, error)
}

// mailbox is the read-only slice of an IMAP session that Poll needs. Its
// only production implementation is the go-imap client (imap_goimap.go).
type mailbox interface {
	// examine opens folder read-only (EXAMINE).
	examine(ctx context.Context, folder string) (mailboxInfo, error)
	// uidsAfter returns the UIDs matched by UID SEARCH UID after+1:*.
	uidsAfter(ctx context.Context, after uint32) ([]uint32, error)
	// uidsSince returns the UIDs matched by UID SEARCH SINCE day.
	uidsSince(ctx context.Context, day time.Time) ([]uint32, error)
	// meta fetches UID, RFC822.SIZE and INTERNALDATE for uids.
	meta(ctx context.Context, uids []uint32) ([]messageMeta, error)
	// body fetches BODY.PEEK[] of uid, failing with errTooLarge past max
	// bytes and returning nil, nil if the message is gone.
	body(ctx context.Context, uid uint32, max int64) ([]byte, error)
	close() error
}

type mailboxInfo struct {
	UIDValidity uint32
	UIDNext     uint32
}

type messageMeta struct {
	UID          uint32
	Size         int64
	InternalDate time.Time
}

var errTooLarge = errors.New("inbound: message too large")

// Poll delivers the messages of acct's folder that state has not seen, in
// UID order, and returns the state after the last message handed over.
//
// After each successful handoff it calls save with the new state (save may
// be nil), so a crash re-delivers at most the message being handled: the
// Handler must be idempotent. If the Handler or save fails, Poll stops and
// returns the state of the last success together with the error; the next
// Poll from that state resumes with the failed message.
//
// UIDs mean nothing across a UIDVALIDITY change (RFC 3501 §2.3.1.1), and
// re-delivering a whole mailbox would replay years of mail into the
// sequencer. So when state.UIDValidity is set and differs from the
// server's, Poll re-delivers only messages whose INTERNALDATE lies within
// ResyncWindow (7 days by default) — the idempotent Handler drops those it
// already has — and then records everything older as seen. This assumes
// the server numbers the re-created mailbox in arrival order, as servers
// do; should a crash hit mid-resync on a server that does not, older
// messages with higher UIDs would be delivered once on the next poll.
//
// Messages over MaxMessageBytes are skipped with a log line and counted as
// seen. Poll only ever EXAMINEs, SEARCHes and FETCHes BODY.PEEK[]: it never
// sets \Seen or changes the mailbox.
func (p *Poller) Poll(ctx context.Context, acct IMAPAccount, state PollState, save func(PollState) error) (PollState, error) {
	if p.Handler == nil {
		return state, errors.New("inbound: Poller.Handler is nil")
	}
	if save == nil {
		save = func(PollState) error { return nil }
	}
	log := p.logger().With("imap_account", acct.ID)
	folder := acct.Folder
	if folder == "" {
		folder = DefaultIMAPFolder
	}

	dial := p.dial
	if dial == nil {
		dial = p.dialIMAP
	}
	mb, err := dial(ctx, acct)
	if err != nil {
		return state, fmt.Errorf("imap account %d: %w", acct.ID, err)
	}
	defer mb.close()

	info, err := mb.examine(ctx, folder)
	if err != nil {
		return state, fmt.Errorf("imap account %d: examine %q: %w", acct.ID, folder, err)
	}

	var (
		uids   []uint32
		resync = state.UIDValidity != 0 && state.UIDValidity != info.UIDValidity
		since  time.Time
	)
	if resync {
		since = p.now().Add(-p.resyncWindow())
		log.Warn("inbound imap: UIDVALIDITY changed; re-delivering recent mail only",
			"folder", folder, "old", state.UIDValidity, "new", info.UIDValidity, "since", since)
		state = PollState{UIDValidity: info.UIDValidity}
		// SINCE compares dates only; the exact cut is made on INTERNALDATE below.
		uids, err = mb.uidsSince(ctx, since)
	} else {
		state.UIDValidity = info.UIDValidity
		uids, err = mb.uidsAfter(ctx, state.LastUID)
	}
	if err != nil {
		return state, fmt.Errorf("imap account %d: search: %w", acct.ID, err)
	}
	// RFC 3501 §6.4.8: "n:*" always matches the highest UID, even below n.
	uids = slices.DeleteFunc(uids, func(u uint32) bool { return u <= state.LastUID })
	slices.Sort(uids)
	uids = slices.Compact(uids)

	maxBytes := p.maxBytes()
	for start := 0; start < len(uids); start += imapMetaBatch {
		batch := uids[start:min(start+imapMetaBatch, len(uids))]
		metas, err := mb.meta(ctx, batch)
		if err != nil {
			return state, fmt.Errorf("imap account %d: fetch metadata: %w", acct.ID, err)
		}
		slices.SortFunc(metas, func(a, b messageMeta) int { return cmp.Compare(a.UID, b.UID) })
		for _, m := range metas {
			if m.UID <= state.LastUID {
				continue
			}
			if err := ctx.Err(); err != nil {
				return state, err
			}
			if resync && m.InternalDate.Before(since) {
				continue
			}
			var raw []byte
			if m.Size > maxBytes {
				err = errTooLarge
			} else {
				raw, err = mb.body(ctx, m.UID, maxBytes)
			}
			switch {
			case errors.Is(err, errTooLarge):
				log.Warn("inbound imap: message too large; skipped", "folder", folder,
					"uid", m.UID, "size", m.Size, "max", maxBytes)
			case err != nil:
				return state, fmt.Errorf("imap account %d: fetch uid %d: %w", acct.ID, m.UID, err)
			case raw == nil:
				// Expunged by the rep between SEARCH and FETCH.
			default:
				msg := Message{
					Raw:         raw,
					Received:    m.InternalDate,
					Source:      fmt.Sprintf("imap:%d", acct.ID),
					UID:         m.UID,
					UIDValidity: state.UIDValidity,
				}
				if err := p.Handler.HandleMessage(ctx, msg); err != nil {
					return state, fmt.Errorf("imap account %d: handle uid %d: %w", acct.ID, m.UID, err)
				}
			}
			next := PollState{UIDValidity: state.UIDValidity, LastUID: m.UID}
			if err := save(next); err != nil {
				return state, fmt.Errorf("imap account %d: save state: %w", acct.ID, err)
			}
			state = next
		}
	}

	// After a resync everything below UIDNEXT is either delivered or too
	// old: record it as seen so the next poll does not pick it up.
	if resync && info.UIDNext > 0 && info.UIDNext-1 > state.LastUID {
		next := PollState{UIDValidity: state.UIDValidity, LastUID: info.UIDNext - 1}
		if err := save(next); err != nil {
			return state, fmt.Errorf("imap account %d: save state: %w", acct.ID, err)
		}
		state = next
	}
	return state, nil
}

func (p *Poller) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Poller) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultIMAPTimeout
}

func (p *Poller) maxBytes() int64 {
	if p.MaxMessageBytes > 0 {
		return p.MaxMessageBytes
	}
	return DefaultMaxIMAPBytes
}

func (p *Poller) resyncWindow() time.Duration {
	if p.ResyncWindow > 0 {
		return p.ResyncWindow
	}
	return DefaultResyncWindow
}

func (p *Poller) dialer() ContextDialer {
	if p.Dialer != nil {
		return p.Dialer
	}
	return &net.Dialer{Timeout: p.timeout()}
}
