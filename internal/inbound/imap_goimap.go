package inbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// dialIMAP connects and logs in to acct with go-imap's client.
func (p *Poller) dialIMAP(ctx context.Context, acct IMAPAccount) (mailbox, error) {
	port := acct.Port
	if port == 0 {
		port = 143
		if acct.TLS == "" || acct.TLS == "tls" {
			port = 993
		}
	}
	addr := net.JoinHostPort(acct.Host, strconv.Itoa(port))

	setupCtx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	conn, err := p.dialer().DialContext(setupCtx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	tlsConfig := &tls.Config{ServerName: acct.Host, InsecureSkipVerify: p.InsecureSkipVerify}
	opts := &imapclient.Options{TLSConfig: tlsConfig}

	// Until the client exists, the set-up deadline guards the connection.
	if dl, ok := setupCtx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var c *imapclient.Client
	switch acct.TLS {
	case "", "tls":
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(setupCtx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		c = imapclient.New(tc, opts)
	case "starttls":
		c, err = imapclient.NewStartTLS(conn, opts)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("starttls with %s: %w", addr, err)
		}
	case "none":
		c = imapclient.New(conn, opts)
	default:
		conn.Close()
		return nil, fmt.Errorf("unknown TLS mode %q", acct.TLS)
	}
	_ = conn.SetDeadline(time.Time{})

	s := &goimapSession{c: c, timeout: p.timeout()}
	if err := s.wait(ctx, func() error { return c.Login(acct.Username, acct.Password).Wait() }); err != nil {
		c.Close()
		return nil, fmt.Errorf("login as %q: %w", acct.Username, err)
	}
	return s, nil
}

type goimapSession struct {
	c       *imapclient.Client
	timeout time.Duration
}

// wait runs one command, closing the connection if ctx ends or the command
// outlives the timeout: go-imap's commands take no context.
func (s *goimapSession) wait(ctx context.Context, run func() error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	err := run()
	if !stop() {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

func (s *goimapSession) examine(ctx context.Context, folder string) (mailboxInfo, error) {
	var info mailboxInfo
	err := s.wait(ctx, func() error {
		data, err := s.c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return err
		}
		info = mailboxInfo{UIDValidity: data.UIDValidity, UIDNext: uint32(data.UIDNext)}
		return nil
	})
	return info, err
}

func (s *goimapSession) search(ctx context.Context, criteria *imap.SearchCriteria) ([]uint32, error) {
	var uids []uint32
	err := s.wait(ctx, func() error {
		data, err := s.c.UIDSearch(criteria, nil).Wait()
		if err != nil {
			return err
		}
		for _, u := range data.AllUIDs() {
			uids = append(uids, uint32(u))
		}
		return nil
	})
	return uids, err
}

func (s *goimapSession) uidsAfter(ctx context.Context, after uint32) ([]uint32, error) {
	// Stop 0 is "*".
	set := imap.UIDSet{imap.UIDRange{Start: imap.UID(after + 1), Stop: 0}}
	return s.search(ctx, &imap.SearchCriteria{UID: []imap.UIDSet{set}})
}

func (s *goimapSession) uidsSince(ctx context.Context, day time.Time) ([]uint32, error) {
	return s.search(ctx, &imap.SearchCriteria{Since: day})
}

func (s *goimapSession) meta(ctx context.Context, uids []uint32) ([]messageMeta, error) {
	set := imap.UIDSet{}
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	var metas []messageMeta
	err := s.wait(ctx, func() error {
		bufs, err := s.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true}).Collect()
		if err != nil {
			return err
		}
		for _, b := range bufs {
			metas = append(metas, messageMeta{UID: uint32(b.UID), Size: b.RFC822Size, InternalDate: b.InternalDate})
		}
		return nil
	})
	return metas, err
}

func (s *goimapSession) body(ctx context.Context, uid uint32, max int64) ([]byte, error) {
	var raw []byte
	err := s.wait(ctx, func() error {
		// Peek: BODY.PEEK[] leaves \Seen alone (RFC 3501 §6.4.5).
		cmd := s.c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{
			UID:         true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		})
		var tooLarge bool
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			for item := msg.Next(); item != nil; item = msg.Next() {
				bs, ok := item.(imapclient.FetchItemDataBodySection)
				if !ok || bs.Literal == nil {
					continue
				}
				// RFC822.SIZE was checked already; this bounds a server
				// that reported less than it sends.
				b, err := io.ReadAll(io.LimitReader(bs.Literal, max+1))
				if err != nil {
					cmd.Close()
					return err
				}
				if int64(len(b)) > max {
					tooLarge = true
					b = nil
				}
				raw = b
			}
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		if tooLarge {
			return errTooLarge
		}
		return nil
	})
	if errors.Is(err, errTooLarge) {
		return nil, errTooLarge
	}
	return raw, err
}

func (s *goimapSession) close() error {
	// LOGOUT, never CLOSE: CLOSE on a read-write mailbox would expunge.
	// EXAMINE makes it read-only anyway.
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	defer stop()
	_ = s.c.Logout().Wait()
	return s.c.Close()
}
