package mailsim

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// AnswerKind is what a simulated recipient does with a message.
type AnswerKind string

const (
	HumanReply     AnswerKind = "human_reply"     // the recipient answers
	ColleagueReply AnswerKind = "colleague_reply" // someone else at the recipient's domain answers
	AutoReply      AnswerKind = "auto_reply"      // out of office until Back
	UnsubscribeMe  AnswerKind = "unsubscribe"     // "please remove me"
	SpamComplaint  AnswerKind = "complaint"       // the provider's feedback loop reports it
	BounceHard     AnswerKind = "hard_bounce"     // DSN 5.1.1 from the recipient's MX
	BounceSoft     AnswerKind = "soft_bounce"     // DSN 4.2.2 delayed, mailbox full
	BounceSender   AnswerKind = "sender_bounce"   // DSN 5.7.26, the sender failed DMARC
)

// Answer is one scripted response to a delivered message.
type Answer struct {
	Kind  AnswerKind
	After time.Duration // after the message was received
	// Text is what a person writes (replies, unsubscribe requests); a
	// sensible default per kind when empty.
	Text string
	// From is the colleague's address (ColleagueReply).
	From string
	// Back is the out-of-office return date (AutoReply); default in 3 days.
	Back time.Time
	// ViaTracking sends a reply by SMTP to Touchline's tracking address
	// instead of the rep's mailbox (IMAP): the "forwarded to tracking
	// addresses" path. Bounces and complaints always go by SMTP to the
	// message's return path.
	ViaTracking bool
}

// Correspondents are the simulated recipients of a World, answering what
// they receive as their script says: people replying (into the sender's
// Mailstore, read over IMAP, or forwarded to the tracking address), out-of-
// office robots, mailbox providers' bounces and feedback loops (by SMTP
// to the return path, at InboundAddr). Run watches the World's accepted
// messages.
type Correspondents struct {
	World *World
	// Script decides, once per accepted message, what its recipient
	// does; false: nothing.
	Script func(m Message) (Answer, bool)
	// InboundAddr is host:port of the SMTP server that receives mail for
	// the bounce and tracking domain (Touchline's inbound server).
	InboundAddr string
	// InboundTLS, when set, makes every delivery to InboundAddr use
	// STARTTLS (RFC 3207) with it, as a receiving MTA that offers it
	// would be met; go-smtp then greets as "localhost".
	InboundTLS *tls.Config
	// Mailstore holds the senders' mailboxes; without it, or when the
	// sender has no mailbox there, replies go by SMTP too.
	Mailstore *Mailstore
	// Now is the clock the answers' dates read; nil means time.Now.
	Now func() time.Time
	// Logf, when set, receives a line per answer delivered or failed.
	Logf func(format string, args ...any)

	mu     sync.Mutex
	counts map[AnswerKind]int
	failed []error
}

// Counts returns how many answers of each kind were delivered.
func (c *Correspondents) Counts() map[AnswerKind]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[AnswerKind]int{}
	for k, n := range c.counts {
		out[k] = n
	}
	return out
}

// Failed returns the deliveries that failed for good.
func (c *Correspondents) Failed() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.failed...)
}

func (c *Correspondents) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Correspondents) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// Run answers every message the World accepts from now on (and those it
// already holds) until ctx ends, then waits for answers under way.
func (c *Correspondents) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	seen := 0
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, m := range c.World.MessagesSince(seen) {
			seen++
			a, ok := c.Script(m)
			if !ok {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-ctx.Done():
					return
				case <-time.After(a.After):
				}
				c.answer(ctx, m, a)
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *Correspondents) answer(ctx context.Context, m Message, a Answer) {
	if len(m.To) == 0 {
		return
	}
	rcpt, at := m.To[0], c.now()
	var (
		raw      []byte
		err      error
		envFrom  = "" // DSNs and reports have a null return path
		envTo    = m.From
		imapUser string // deliver into this mailbox instead
	)
	switch a.Kind {
	case HumanReply, ColleagueReply, UnsubscribeMe:
		from, text := rcpt, a.Text
		if a.Kind == ColleagueReply {
			from = a.From
		}
		if text == "" {
			text = map[AnswerKind]string{
				HumanReply:     "Thanks for reaching out. Yes, we are hiring two SDRs this quarter. Can we talk on Thursday at 10?",
				ColleagueReply: "I lead hiring here, not my colleague. Happy to talk: how about next Tuesday?",
				UnsubscribeMe:  "Please remove me from your list.",
			}[a.Kind]
		}
		raw, err = ReplyFrom(m, from, "", text, at)
		envFrom = from
		imapUser, envTo = c.replyRoute(m, a)
	case AutoReply:
		back := a.Back
		if back.IsZero() {
			back = at.AddDate(0, 0, 3)
		}
		raw, err = OutOfOffice(m, rcpt, back, at)
		imapUser, envTo = c.replyRoute(m, a)
	case BounceHard:
		raw, err = DeliveryStatus(m, "mx."+domainOf(rcpt), rcpt, "failed", "5.1.1",
			"550 5.1.1 <"+rcpt+">: Recipient address rejected: User unknown in virtual mailbox table", at)
	case BounceSoft:
		raw, err = DeliveryStatus(m, "mx."+domainOf(rcpt), rcpt, "delayed", "4.2.2",
			"452 4.2.2 <"+rcpt+">: Mailbox full, over quota", at)
	case BounceSender:
		raw, err = DeliveryStatus(m, "mx."+domainOf(rcpt), rcpt, "failed", "5.7.26",
			"550 5.7.26 Unauthenticated email from "+domainOf(m.From)+" is not accepted due to domain's DMARC policy", at)
	case SpamComplaint:
		raw, err = Complaint(m, domainOf(rcpt), rcpt, at)
	default:
		err = fmt.Errorf("unknown answer kind %q", a.Kind)
	}
	if err == nil {
		if imapUser != "" {
			err = c.Mailstore.Deliver(imapUser, raw, at)
		} else {
			err = c.send(ctx, envFrom, envTo, raw)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("mailsim: %s from %s: %w", a.Kind, rcpt, err)
		c.failed = append(c.failed, err)
		c.logf("%v", err)
		return
	}
	if c.counts == nil {
		c.counts = map[AnswerKind]int{}
	}
	c.counts[a.Kind]++
	via := "smtp " + envTo
	if imapUser != "" {
		via = "imap " + imapUser
	}
	c.logf("mailsim: %s from %s (%s)", a.Kind, rcpt, via)
}

// replyRoute says where a person's (or a robot's) reply goes: the rep's
// mailbox in the Mailstore, or the tracking address by SMTP.
func (c *Correspondents) replyRoute(m Message, a Answer) (imapUser, envTo string) {
	if o, err := parseOriginal(m); err == nil && c.Mailstore != nil && !a.ViaTracking && c.Mailstore.Has(o.from.Address) {
		return o.from.Address, ""
	}
	return "", "replies@" + domainOf(m.From)
}

// send delivers by SMTP to InboundAddr, retrying a 4xx a few times.
func (c *Correspondents) send(ctx context.Context, from, to string, raw []byte) error {
	if c.InboundAddr == "" {
		return fmt.Errorf("no inbound server to send to")
	}
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		err = c.sendOnce(from, to, raw)
		if se, ok := err.(*smtp.SMTPError); err == nil || ok && se.Code >= 500 {
			return err
		}
	}
	return err
}

func (c *Correspondents) sendOnce(from, to string, raw []byte) error {
	if c.InboundTLS != nil {
		cl, err := smtp.DialStartTLS(c.InboundAddr, c.InboundTLS)
		if err != nil {
			return err
		}
		defer cl.Close()
		if err := cl.SendMail(from, []string{to}, bytes.NewReader(raw)); err != nil {
			return err
		}
		return cl.Quit()
	}
	cl, err := smtp.Dial(c.InboundAddr)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Hello("mx.correspondents.test"); err != nil {
		return err
	}
	if err := cl.SendMail(from, []string{to}, bytes.NewReader(raw)); err != nil {
		return err
	}
	return cl.Quit()
}
