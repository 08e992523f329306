package inbound

import (
	"context"
	"time"
)

// Message is one piece of inbound mail, as received.
type Message struct {
	// RemoteIP is the SMTP client's address; empty for IMAP.
	RemoteIP string
	// HELO is the name the SMTP client gave in HELO/EHLO; empty for IMAP.
	HELO string
	// From is the envelope reverse-path over SMTP; empty for a null sender
	// (MAIL FROM:<>), which is what DSNs use. Empty for IMAP.
	From string
	// To holds the accepted envelope recipients, as the sender spelled
	// them (plus/sub-address tags untouched). Empty for IMAP.
	To []string
	// Raw is the message as received; over SMTP it starts with the
	// Received trace header this server added.
	Raw []byte
	// TLS reports whether the SMTP session ran over TLS.
	TLS bool
	// Received is when the message arrived: the SMTP end of DATA, or the
	// IMAP INTERNALDATE.
	Received time.Time
	// Source is "smtp" or "imap:<account id>".
	Source string
	// UID is the IMAP UID within UIDValidity; zero for SMTP. Together with
	// Source they identify a mailbox message for an idempotent Handler.
	UID, UIDValidity uint32
}

// Handler takes ownership of inbound messages. It must be idempotent:
// both sources deliver at least once (see the package documentation).
type Handler interface {
	HandleMessage(ctx context.Context, m Message) error
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, m Message) error

// HandleMessage calls f.
func (f HandlerFunc) HandleMessage(ctx context.Context, m Message) error { return f(ctx, m) }
