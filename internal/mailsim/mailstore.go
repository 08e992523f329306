package mailsim

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Mailstore is the senders' side of the simulated world: the reps'
// mailboxes, served over IMAP (go-imap v2's in-memory server) on a
// loopback address, where replies land as they do in a real inbox.
// Plain-text login, no TLS: loopback only.
type Mailstore struct {
	mem   *imapmemserver.Server
	srv   *imapserver.Server
	ln    net.Listener
	mu    sync.Mutex
	users map[string]*imapmemserver.User
}

// NewMailstore starts an IMAP server on 127.0.0.1 (a free port).
func NewMailstore() (*Mailstore, error) {
	ms := &Mailstore{mem: imapmemserver.New(), users: map[string]*imapmemserver.User{}}
	ms.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return ms.mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mailsim: mailstore: %w", err)
	}
	ms.ln = ln
	go ms.srv.Serve(ln)
	return ms, nil
}

// Addr is the IMAP server's host and port.
func (ms *Mailstore) Addr() (host string, port int) {
	h, p, _ := net.SplitHostPort(ms.ln.Addr().String())
	port, _ = strconv.Atoi(p)
	return h, port
}

// AddUser creates a mailbox (login: its address) with an empty INBOX.
func (ms *Mailstore) AddUser(address, password string) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	address = strings.ToLower(address)
	if _, ok := ms.users[address]; ok {
		return
	}
	u := imapmemserver.NewUser(address, password)
	u.Create("INBOX", nil)
	ms.mem.AddUser(u)
	ms.users[address] = u
}

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return int64(l.Len()) }

func (ms *Mailstore) user(address string) *imapmemserver.User {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.users[strings.ToLower(address)]
}

// Has reports whether address has a mailbox here.
func (ms *Mailstore) Has(address string) bool { return ms.user(address) != nil }

// Deliver appends a message to the INBOX of address, unread.
func (ms *Mailstore) Deliver(address string, raw []byte, at time.Time) error {
	u := ms.user(address)
	if u == nil {
		return fmt.Errorf("mailsim: mailstore has no mailbox %s", address)
	}
	_, err := u.Append("INBOX", literal{bytes.NewReader(raw)}, &imap.AppendOptions{Time: at})
	return err
}

// Unseen counts the unread messages in address's INBOX: replies a poller
// must leave as it found them.
func (ms *Mailstore) Unseen(address string) (int, error) {
	u := ms.user(address)
	if u == nil {
		return 0, fmt.Errorf("mailsim: mailstore has no mailbox %s", address)
	}
	st, err := u.Status("INBOX", &imap.StatusOptions{NumUnseen: true, NumMessages: true})
	if err != nil || st.NumUnseen == nil {
		return 0, err
	}
	return int(*st.NumUnseen), nil
}

// Close stops the server.
func (ms *Mailstore) Close() error { return ms.srv.Close() }
