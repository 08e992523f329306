package mailsim

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestGoSMTPClient checks that the client the verifier is likely to use
// reads the simulated replies as it reads real ones: codes and enhanced
// codes from every style, Gmail's multi-line replies included, through
// STARTTLS and a send with DATA.
func TestGoSMTPClient(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.google.test", Style: "gmail", StartTLS: true})
	mustAddDomain(t, w, Domain{Name: "gmail.test", MX: []MX{{5, "mx.google.test"}}, AcceptData: true,
		Mailboxes: map[string]Mailbox{"alice": Exists, "bob": Full}})

	var d Dialer
	conn, err := d.DialContext(context.Background(), "tcp", smtpAddr(t, w, "mx.google.test"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClientStartTLS(conn, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("probe.touchline.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("probe@touchline.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rcpt string
		code int
		enh  smtp.EnhancedCode
		text string
	}{
		{"nobody@gmail.test", 550, smtp.EnhancedCode{5, 1, 1}, "does not exist"},
		{"bob@gmail.test", 452, smtp.EnhancedCode{4, 2, 2}, "out of storage space"},
		{"x@unknown.test", 550, smtp.EnhancedCode{5, 7, 0}, "Mail relay denied"},
	} {
		var se *smtp.SMTPError
		if err := c.Rcpt(tc.rcpt, nil); !errors.As(err, &se) || se.Code != tc.code || se.EnhancedCode != tc.enh || !strings.Contains(se.Message, tc.text) {
			t.Errorf("RCPT %s: %#v", tc.rcpt, err)
		}
	}
	if err := c.Rcpt("alice@gmail.test", nil); err != nil {
		t.Fatal(err)
	}
	wc, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	wc.Write([]byte("Subject: test\r\n\r\nhello\r\n"))
	if err := wc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	st := w.HostStats("mx.google.test")
	if st.StartTLS != 1 || st.Data != 1 || len(w.Messages()) != 1 {
		t.Errorf("stats %+v, %d messages", st, len(w.Messages()))
	}
	// go-smtp greets with "localhost" before STARTTLS (see FIELD-NOTES).
	if want := []string{"localhost", "probe.touchline.test"}; strings.Join(st.HeloNames, ",") != strings.Join(want, ",") {
		t.Errorf("HELO names %v, want %v", st.HeloNames, want)
	}
}
