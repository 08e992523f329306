package mailsim

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"
)

// The mail a recipient sends back, built the way real systems write it:
// a person's reply quotes the message under an attribution line; an
// out-of-office carries Auto-Submitted (RFC 3834); a bounce is an RFC 3464
// report from the recipient's MX; a complaint is an RFC 5965 ARF report
// from the mailbox provider's feedback loop. Each takes the message it
// answers, as a simulated host received it.

// original is what an answer needs of the message it answers.
type original struct {
	msg       Message
	from      *mail.Address // the header From: who a reply goes to
	messageID string
	subject   string
	body      string
	header    string // the header block, for reports
}

func parseOriginal(m Message) (original, error) {
	pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return original{}, fmt.Errorf("mailsim: answering a message that does not parse: %w", err)
	}
	o := original{msg: m, messageID: strings.TrimSpace(pm.Header.Get("Message-ID")), subject: pm.Header.Get("Subject")}
	dec := new(mime.WordDecoder)
	if s, err := dec.DecodeHeader(o.subject); err == nil {
		o.subject = s
	}
	if o.from, err = mail.ParseAddress(pm.Header.Get("From")); err != nil {
		return original{}, fmt.Errorf("mailsim: answering a message without a From: %w", err)
	}
	var body bytes.Buffer
	body.ReadFrom(pm.Body)
	o.body = body.String()
	if i := bytes.Index(m.Data, []byte("\r\n\r\n")); i >= 0 {
		o.header = string(m.Data[:i+2])
	}
	return o, nil
}

func newMessageID(domain string) string {
	var b [10]byte
	rand.Read(b[:])
	return "<" + hex.EncodeToString(b[:]) + "@" + domain + ">"
}

func domainOf(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }

// quote renders text as a reply quotes it.
func quote(text string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		b.WriteString("> " + sc.Text() + "\r\n")
	}
	return b.String()
}

func replySubject(s string) string {
	if strings.HasPrefix(strings.ToLower(s), "re:") {
		return s
	}
	return "Re: " + s
}

// ReplyFrom is a person's reply to m from the address from (the
// recipient, or a colleague of theirs): to the message's From, threaded
// with In-Reply-To and References, quoting it.
func ReplyFrom(m Message, from, name, body string, at time.Time) ([]byte, error) {
	o, err := parseOriginal(m)
	if err != nil {
		return nil, err
	}
	refs := o.messageID
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\n", (&mail.Address{Name: name, Address: from}).String())
	fmt.Fprintf(&b, "To: %s\r\n", o.from.String())
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", replySubject(o.subject)))
	fmt.Fprintf(&b, "Date: %s\r\n", at.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: %s\r\n", newMessageID(domainOf(from)))
	if refs != "" {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\nReferences: %s\r\n", refs, refs)
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.TrimRight(body, "\n"), "\n", "\r\n") + "\r\n\r\n")
	fmt.Fprintf(&b, "On %s, %s wrote:\r\n", m.Received.Format("Mon, Jan 2, 2006 at 3:04 PM"), o.from.String())
	b.WriteString(quote(o.body))
	return []byte(b.String()), nil
}

// OutOfOffice is the recipient's automatic reply (RFC 3834): back on the
// day given.
func OutOfOffice(m Message, rcpt string, back, at time.Time) ([]byte, error) {
	o, err := parseOriginal(m)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", rcpt, o.from.String())
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", "Automatic reply: "+o.subject))
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: %s\r\n", at.Format(time.RFC1123Z), newMessageID(domainOf(rcpt)))
	if o.messageID != "" {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\nReferences: %s\r\n", o.messageID, o.messageID)
	}
	b.WriteString("Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	fmt.Fprintf(&b, "Thank you for your message. I am out of the office until %s with limited access to email.\r\n"+
		"I will be back on %s and will reply then.\r\n", back.Format("January 2, 2006"), back.Format("Monday, January 2, 2006"))
	return []byte(b.String()), nil
}

// DeliveryStatus is an RFC 3464 report from the recipient's MX, sent to
// the message's envelope sender (Touchline's VERP return path): action
// "failed" or "delayed", an RFC 3463 status and the remote reply.
func DeliveryStatus(m Message, mx, rcpt, action, status, diagnostic string, at time.Time) ([]byte, error) {
	o, err := parseOriginal(m)
	if err != nil {
		return nil, err
	}
	boundary := strings.Trim(newMessageID("b"), "<>@")
	subject := "Undelivered Mail Returned to Sender"
	if action == "delayed" {
		subject = "Delayed Mail (still being retried)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\nTo: %s\r\nSubject: %s\r\n", mx, m.From, subject)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: %s\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n", at.Format(time.RFC1123Z), newMessageID(mx))
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThis is the mail system at host %s.\r\n\r\n", boundary, mx)
	if action == "delayed" {
		b.WriteString("Your message could not be delivered yet; the mail system will keep trying.\r\n\r\n")
	} else {
		b.WriteString("I'm sorry to have to inform you that your message could not be delivered to one or more recipients.\r\n\r\n")
	}
	fmt.Fprintf(&b, "<%s>: %s\r\n\r\n", rcpt, diagnostic)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; %s\r\nArrival-Date: %s\r\n\r\n", boundary, mx, m.Received.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Final-Recipient: rfc822; %s\r\nOriginal-Recipient: rfc822;%s\r\nAction: %s\r\nStatus: %s\r\n", rcpt, rcpt, action, status)
	fmt.Fprintf(&b, "Remote-MTA: dns; %s\r\nDiagnostic-Code: smtp; %s\r\n\r\n", mx, diagnostic)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n%s\r\n--%s--\r\n", boundary, o.header, boundary)
	return []byte(b.String()), nil
}

// Complaint is an RFC 5965 feedback report ("this is spam") from the
// recipient's provider, carrying the original message's header.
func Complaint(m Message, provider, rcpt string, at time.Time) ([]byte, error) {
	o, err := parseOriginal(m)
	if err != nil {
		return nil, err
	}
	boundary := strings.Trim(newMessageID("arf"), "<>@")
	var b strings.Builder
	fmt.Fprintf(&b, "From: Feedback Loop <fbl@%s>\r\nTo: %s\r\nSubject: Complaint about message from %s\r\n", provider, m.From, o.from.Address)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n", at.Format(time.RFC1123Z), newMessageID(provider))
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=feedback-report; boundary=\"%s\"\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThis is an email abuse report for an email message received from %s.\r\n\r\n", boundary, o.from.Address)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: mailsim-fbl/1.0\r\nVersion: 1\r\n", boundary)
	fmt.Fprintf(&b, "Original-Mail-From: <%s>\r\nOriginal-Rcpt-To: <%s>\r\nArrival-Date: %s\r\nReported-Domain: %s\r\n\r\n", m.From, rcpt, m.Received.Format(time.RFC1123Z), domainOf(o.from.Address))
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n%s\r\n--%s--\r\n", boundary, o.header, boundary)
	return []byte(b.String()), nil
}
