package sequencer

import (
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"

	"github.com/touchline/touchline/internal/netpolicy"
)

// imapErrorText is what a tenant is shown of a failed IMAP poll
// (mailbox.imap_error). The host is the tenant's, but what answered there
// is not theirs to learn byte by byte: "connection refused" against
// "unknown tag HTTP/1.1" against a timeout maps ports for whoever holds an
// API key. So: a refusal by policy, "could not connect", an answer an IMAP
// server gave (NO/BAD to LOGIN: wrong password, a folder that does not
// exist), or "did not answer as an IMAP server". The full error goes to
// the operator's log.
func imapErrorText(host string, port int, err error) string {
	var de *netpolicy.DialError
	var ie *imap.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &de):
		return "imap: " + de.Error()
	case errors.As(err, &ie):
		return fmt.Sprintf("imap: %s answered %s %s", hostPort(host, port), ie.Type, ie.Text)
	default:
		return fmt.Sprintf("imap: %s did not answer as an IMAP server (or the connection broke)", hostPort(host, port))
	}
}

func hostPort(host string, port int) string {
	if port == 0 {
		return host
	}
	return fmt.Sprintf("%s:%d", host, port)
}
