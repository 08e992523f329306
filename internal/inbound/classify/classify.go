package classify

import (
	"bytes"
	"errors"
	"net/mail"
	"strings"
	"time"
)

// Class is what a message that came back is.
type Class string

const (
	ClassComplaint   Class = "complaint"
	ClassBounce      Class = "bounce"
	ClassAutoReply   Class = "auto_reply"
	ClassUnsubscribe Class = "unsubscribe"
	ClassHumanReply  Class = "human_reply"
	// ClassUnknown is a report that is neither a failure nor a complaint
	// (a successful-delivery DSN, a read receipt) or a bounce that could
	// not be read.
	ClassUnknown Class = "unknown"
)

// BounceKind says what a failed delivery means for the address.
type BounceKind string

const (
	// Hard: the address is bad (unknown user, unknown domain, null MX,
	// moved, disabled).
	Hard BounceKind = "hard"
	// Soft: temporary, a delay, or a full mailbox; the address may work
	// later.
	Soft BounceKind = "soft"
	// Sender: the receiving side refused the sender (policy,
	// authentication, reputation, blocklist); the address is fine.
	Sender BounceKind = "sender"
)

// Recipient is one recipient of a bounce (or of a complaint, with only
// Address set).
type Recipient struct {
	Address    string
	Status     string // RFC 3463 "x.y.z"
	Action     string // RFC 3464 §2.3.3: failed or delayed
	Diagnostic string // the remote server's reply or the bounce's words
	Kind       BounceKind
	Reason     string // see the package comment
}

// Result is the verdict on one message.
type Result struct {
	Class             Class
	Rule              string      // the rule that decided, e.g. "arf", "dsn:rfc3464", "auto:subject-de", "human"
	Recipients        []Recipient // bounces: one per failed or delayed recipient
	ReturnDate        *time.Time  // auto-replies: the day the author says they are back, if stated
	OriginalMessageID string      // the Message-ID this message answers or reports on
	References        []string    // In-Reply-To, then References
	FeedbackType      string      // complaints: the ARF Feedback-Type
	Snippet           string      // replies: the first ~200 characters of the new text
}

// ErrNotMessage is returned for input that is not an RFC 5322 message.
var ErrNotMessage = errors.New("classify: not an RFC 5322 message")

// Classify reads one raw message and says what it is. See the package
// comment for the rules and their order.
func Classify(raw []byte) (Result, error) {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	// An mbox "From " separator line is not a header field.
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	h, body, ok := parseHeader(raw)
	if !ok {
		return Result{}, ErrNotMessage
	}
	count := 0
	root := parseEntity(h, body, 0, &count)
	subject := headerText(h, "Subject")
	refs := references(h)

	finish := func(r Result) (Result, error) {
		r.References = refs
		if r.OriginalMessageID == "" && len(refs) > 0 {
			r.OriginalMessageID = refs[0]
		}
		return r, nil
	}

	// 1. Complaints (RFC 5965).
	if r, ok := complaint(root); ok {
		return finish(r)
	}
	// 2. Delivery status: RFC 3464 reports, provider JSON notifications,
	// then the bounces that carry neither, read from their text.
	strong := strongMailSystem(root, h, subject)
	if r, ok := providerNotice(root); ok {
		return finish(r)
	}
	if r, ok := deliveryStatus(root); ok {
		if len(r.Recipients) > 0 || r.Class == ClassUnknown {
			return finish(r)
		}
		if t, ok := textBounce(root, h, subject, "report"); ok && len(t.Recipients) > 0 {
			if t.OriginalMessageID == "" {
				t.OriginalMessageID = r.OriginalMessageID
			}
			return finish(t)
		}
		r.Class, r.Rule = ClassUnknown, "dsn:unparsed"
		return finish(r)
	}
	rep := root.find("multipart/report")
	if rep != nil && rep.params["report-type"] != "" {
		// RFC 6522 reports of other kinds: read receipts (RFC 8098),
		// TLS or DMARC reports. Not a reply.
		return finish(Result{Class: ClassUnknown, Rule: "report:" + strings.ToLower(rep.params["report-type"]), OriginalMessageID: originalHeaderID(rep)})
	}
	if r, ok := textBounce(root, h, subject, strong); ok {
		return finish(r)
	}
	if rep != nil {
		// A report that does not say its type, and no failure in its text.
		return finish(Result{Class: ClassUnknown, Rule: "report:unknown", OriginalMessageID: originalHeaderID(rep)})
	}
	if strong != "" && !(strong == "subject" && replyPrefix(subject)) {
		// Written by a mail system, but no failure could be read from it:
		// never a person's reply, and nothing to infer about an address.
		return finish(Result{Class: ClassUnknown, Rule: "dsn:unparsed", OriginalMessageID: originalHeaderID(root)})
	}

	text, _ := root.bodyText()
	fresh := newText(text)

	// 3. Auto-replies (RFC 3834 and the subjects people's software writes).
	rule := autoReplyHeader(h)
	if rule == "" {
		if lang := autoReplySubject(subject); lang != "" {
			rule = "auto:subject-" + lang
		}
	}
	if rule != "" {
		ref, err := mail.ParseDate(h.Get("Date"))
		r := Result{Class: ClassAutoReply, Rule: rule, Snippet: snippet(fresh)}
		r.ReturnDate = returnDate(subject+"\n"+fresh, ref, err == nil)
		return finish(r)
	}

	if challengeResponse(fresh) {
		// A challenge/response system asking the sender to prove itself:
		// an automatic answer (RFC 3834), not the person.
		return finish(Result{Class: ClassAutoReply, Rule: "auto:challenge-response", Snippet: snippet(fresh)})
	}
	if automatedStatement(fresh) {
		// Software that acknowledges mail (help desks, ticket systems)
		// without RFC 3834 fields still says what it is.
		return finish(Result{Class: ClassAutoReply, Rule: "auto:automated-statement", Snippet: snippet(fresh)})
	}
	if nullReturnPath(h) {
		// RFC 5321 §4.5.5: only notifications use the null reverse path;
		// a person's reply does not. Not a reply, though nothing more is
		// known.
		return finish(Result{Class: ClassUnknown, Rule: "machine:null-return-path"})
	}

	// 4. Unsubscribe requests: short, and in the new text.
	if n := len(strings.Fields(fresh)); n <= maxUnsubscribeWords {
		switch {
		case asksUnsubscribe(fresh):
			return finish(Result{Class: ClassUnsubscribe, Rule: "unsub:body", Snippet: snippet(fresh)})
		case subjectOnlyUnsubscribe(subject, n):
			return finish(Result{Class: ClassUnsubscribe, Rule: "unsub:subject", Snippet: snippet(fresh)})
		}
	}

	// 5. Everything else is a person writing.
	return finish(Result{Class: ClassHumanReply, Rule: "human", Snippet: snippet(fresh)})
}

// subjectOnlyUnsubscribe is a reply whose subject is the request and whose
// body says (almost) nothing, as a List-Unsubscribe mailto: link or a
// terse reply produces.
func subjectOnlyUnsubscribe(subject string, bodyWords int) bool {
	s := stripReplyPrefix(subject)
	return bodyWords <= 5 && len(strings.Fields(s)) <= 4 && asksUnsubscribe(s)
}

// references returns In-Reply-To, then References, without duplicates.
func references(h map[string][]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, name := range []string{"In-Reply-To", "References"} {
		for _, v := range h[name] {
			for _, id := range msgIDs(v) {
				if !seen[id] {
					seen[id] = true
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// challengeResponse reports the words of challenge/response anti-spam
// systems that ask an unknown sender to confirm itself.
func challengeResponse(text string) bool {
	t := strings.ToLower(text)
	return containsAny(t, []string{
		"have your address added to", "to the recipient's allowed list", "sender not pre-approved",
		"this account is protected by", "verify that you are a human", "prove that you are a human",
		"confirm that you are a human", "approved senders list", "spam protection service requires",
		"awaiting your verification", "verify your email address to deliver",
		// The general statements C/R systems make about themselves.
		"challenge/response", "challenge-response", "challenge response system", "are a real person",
		"not an automated", "click the link below to verify", "confirm your message", "authorize your message",
		"on my list of approved senders", "whitelist request", "allowlist request",
	})
}

// automatedStatement reports a message's own statement, in its new text,
// that software wrote it.
func automatedStatement(text string) bool {
	t := strings.Join(strings.Fields(strings.ToLower(text)), " ")
	return containsAny(t, []string{
		"this is an automated message", "this is an automated response", "this is an automated reply",
		"this is an automatic reply", "this is an automatic response", "this is an automatically generated",
		"this message was sent automatically", "this message was generated automatically",
		"this email was sent automatically", "this e-mail was sent automatically", "this is an auto-generated",
		"automated acknowledgement", "automated acknowledgment", "your ticket number is", "a ticket has been created",
		"your request has been received and assigned", "diese nachricht wurde automatisch", "dies ist eine automatische",
		"ceci est un message automatique", "ceci est une réponse automatique", "este es un mensaje automático",
		"este é um e-mail automático", "esta é uma mensagem automática", "questo è un messaggio automatico",
		"dit is een automatisch", "это автоматическое сообщение", "このメールは自動", "本邮件为系统自动", "此邮件为系统自动",
	})
}
