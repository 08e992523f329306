package classify

import (
	"net/textproto"
	"regexp"
	"sort"
	"strings"
)

// Bounces that carry no RFC 3464 report are read from their text. Each
// format below is recognised by its own wording and its recipients are
// taken from where that software writes them; nothing is guessed from an
// unknown format.

var (
	reAddress = regexp.MustCompile(`[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+`)
	// An address alone on a line, maybe as "Name<mailto:a@b>" (Exchange).
	reAddressLine = regexp.MustCompile(`^(?:[^<>@]*<(?:mailto:)?)?\s*([^\s<>@'"]+@[^\s<>@'"]+\.[A-Za-z]{2,})\s*>?\s*(?:\([^)]*\))?$`)
	// "<jane@example.com>: ..." opens a recipient's paragraph in Postfix
	// and qmail bounces.
	reAngleParagraph = regexp.MustCompile(`^<((?:"[^"]*"|[^<>\s"]+)@[^<>\s]+)>(?:\s*\(expanded from:?\s*<?((?:"[^"]*"|[^<>\s"()]+)@[^<>\s()]+?)>?\))?:\s*(.*)$`)
	reOriginalID     = regexp.MustCompile(`(?im)^[ \t]*message-id:[ \t]*(<[^<>\s]+>)`)
	reGmailTo        = regexp.MustCompile(`(?i)(?:wasn't|was not|hasn't been|has not been) delivered to (` + reAddress.String() + `)`)
	reOutlookTo      = regexp.MustCompile(`(?i)your message to (` + reAddress.String() + `) couldn't be delivered`)
	reReturned       = regexp.MustCompile(`(?i)remote server returned '([^']*)'`)
)

// Markers after which a bounce quotes the message it returns.
var originalMarkers = []string{
	"below this line is a copy of the message",
	"below the next line is a copy of the message",
	"this is a copy of the message",
	"this is a copy of your message",
	"original message -----",
	"original message headers",
	"the header of the original message is following",
	"original message follows",
	"returned mail follows",
	"returned message follows",
	"message header follows",
	"message headers follow",
	"header of the source mail",
	"the header and top",
	"your message reads",
	"summary of the undelivered message",
	"copy of the original message",
	"original message as received",
	"message text follows",
	"unsent message below",
	"unsent message follows",
	"no message was collected",
	"headers of the original message",
	"the original message headers",
	"original message:",
	"old message:",
	"included below is the original",
	"--- original message",
}

// cutOriginal returns the bounce's own text: what comes before the copy of
// the message it returns (a marker line written by the bounce software, or
// the first run of quoted header fields).
func cutOriginal(text string) string {
	lower := strings.ToLower(text)
	cut := len(text)
	for _, m := range originalMarkers {
		if i := strings.Index(lower, m); i >= 0 && i < cut {
			// Cut at the start of the marker's line.
			cut = strings.LastIndexByte(lower[:i], '\n') + 1
		}
	}
	if i := reQuotedHeaders.FindStringIndex(text[:cut]); i != nil {
		cut = i[0]
	}
	return text[:cut]
}

// reQuotedHeaders is the start of a copied header section: a Received or
// Return-Path field at the margin followed by more fields.
var reQuotedHeaders = regexp.MustCompile(`(?m)^(Received: |Return-Path: |Return-path: )`)

// textBounce recognises the bounces that carry no RFC 3464 report: the
// formats of the common MTAs first, then, for mail from a mail system
// that states a failure, the generic reader. strong is why the message
// looks written by a mail system ("" when nothing says so).
func textBounce(root *entity, h textproto.MIMEHeader, subject, strong string) (Result, bool) {
	full, _ := root.bodyText()
	text := cutOriginal(full)
	lower := strings.ToLower(text)
	failure := containsAny(lower, failureWords) || containsAny(lower, delayWords)
	if strong == "subject" && replyPrefix(subject) && !(failure && containsAny(lower, []string{
		"your message", "the message", "this message", "following recipient", "following address",
		"following user", "mail could not", "original message",
	})) {
		// "Re: delivery report for Q3", "Re: the parcel was not delivered"
		// from a person. A mail system that keeps the reply prefix
		// ("RE: ... : non remis") still talks about "your message".
		strong = ""
	}
	weak := nullReturnPath(h) || strings.HasPrefix(strings.ToLower(h.Get("Auto-Submitted")), "auto-")
	if strong == "" && !(weak && failure) {
		return Result{}, false
	}
	from := strings.ToLower(h.Get("From"))
	lsubj := strings.ToLower(subject)
	delayed := delayNotice(subject, text)

	var rule string
	var rcpts []Recipient
	switch {
	case strings.Contains(lower, "delivery has failed to these recipients") ||
		strings.Contains(lower, "diagnostic information for administrators") ||
		reOutlookTo.MatchString(text) ||
		(strings.Contains(lower, "remote server returned") && (strings.Contains(lsubj, "undeliverable") || strings.Contains(from, "microsoft"))):
		rule, rcpts = "dsn:exchange-ndr", exchangeRecipients(text)
	case strings.Contains(from, "google") && (reGmailTo.MatchString(text) || strings.Contains(lower, "delivery to the following recipient")) ||
		strings.Contains(lsubj, "delivery status notification") && (reGmailTo.MatchString(text) || strings.Contains(lower, "delivery to the following recipient")):
		rule, rcpts = "dsn:gmail", gmailRecipients(text)
	case strings.Contains(lower, "qmail-send program") || strings.Contains(lower, "i'm afraid i wasn't able to deliver"):
		rule, rcpts = "dsn:qmail", angleRecipients(text)
	case strings.Contains(lower, "this is the mail system at host") || strings.Contains(lsubj, "undelivered mail returned to sender") ||
		strings.Contains(lsubj, "delayed mail (still being retried)"):
		rule, rcpts = "dsn:postfix", angleRecipients(text)
	case strings.Contains(lower, "address(es) failed") || strings.Contains(lsubj, "mail delivery failed") ||
		strings.Contains(lower, "created automatically by mail delivery software"):
		rule, rcpts = "dsn:exim", eximRecipients(text)
	}
	if len(rcpts) == 0 && (failure || reBounceSubject.MatchString(subject) || strong == "from" || strong == "x-failed-recipients") {
		rule, rcpts = "dsn:text", genericRecipients(text, h, originalAddresses(root, full, text))
		if len(rcpts) == 0 {
			rcpts = aolRecipients(text, h)
		}
		if len(rcpts) == 0 {
			rcpts = namedInOriginal(text, originalAddresses(root, full, text))
		}
		if len(rcpts) == 0 && failure && !viaList(h, full[len(text):]) {
			// A failure notice that names no address but returns a copy
			// of a message sent to one address only (Verizon's
			// "Message could not be delivered to mobile" above the
			// original's headers): that address is the one that failed.
			// Not when a mailing list sent it: then the copy's To is the
			// list, and the failed member is not named.
			if orig := originalAddresses(root, full, text); len(orig) == 1 {
				for a := range orig {
					if !mailSystemLocal(a) {
						rcpts = []Recipient{{Address: a, Diagnostic: clip(joinTrim(strings.Split(text, "\n")), 2000)}}
					}
				}
			}
		}
	}
	res := Result{Class: ClassBounce, Rule: rule}
	for _, r := range rcpts {
		action := "failed"
		if delayed {
			action = "delayed"
		}
		st := diagnosticStatus("", r.Diagnostic, !delayed)
		if delayed && st.Class == 5 && parseStatus(" "+r.Diagnostic).Class != 5 {
			st.Class = 4
		}
		r.Status, r.Action = st.String(), action
		r.Kind, r.Reason = kindOf(st, action, r.Diagnostic)
		res.Recipients = append(res.Recipients, r)
	}
	if len(res.Recipients) == 0 {
		res.Class, res.Rule = ClassUnknown, "dsn:unparsed"
	}
	res.OriginalMessageID = originalHeaderID(root)
	if res.OriginalMessageID == "" {
		if m := reOriginalID.FindStringSubmatch(full[len(text):]); m != nil {
			res.OriginalMessageID = m[1]
		}
	}
	return res, true
}

// paragraphs splits text into blank-line separated groups of lines.
func paragraphs(text string) [][]string {
	var out [][]string
	var cur []string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" {
			if cur != nil {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, strings.TrimRight(l, " \t\r"))
	}
	if cur != nil {
		out = append(out, cur)
	}
	return out
}

func joinTrim(lines []string) string {
	var parts []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

// addRecipient adds r or, when its address is already listed, keeps the
// diagnostic that carries a status code.
func addRecipient(list []Recipient, r Recipient) []Recipient {
	if len(list) >= maxRecipients {
		return list
	}
	r.Address = cleanAddress(r.Address)
	if r.Address != "" && !isAddress(r.Address) {
		// "<0@0>" in a text report is no mailbox (RFC 5321 §4.1.2).
		return list
	}
	for i := range list {
		if strings.EqualFold(list[i].Address, r.Address) {
			if !parseStatus(" "+list[i].Diagnostic).Valid() && parseStatus(" "+r.Diagnostic).Valid() {
				list[i].Diagnostic = r.Diagnostic
			}
			return list
		}
	}
	return append(list, r)
}

// angleRecipients reads Postfix's and qmail's "<addr>: text" paragraphs.
func angleRecipients(text string) []Recipient {
	var out []Recipient
	for _, p := range paragraphs(text) {
		// A recipient starts at the margin; Postfix indents the lines that
		// continue its reply, which may quote the address again.
		opens := func(l string) []string {
			if indent(l) > 0 {
				return nil
			}
			return reAngleParagraph.FindStringSubmatch(strings.TrimSpace(l))
		}
		for i := 0; i < len(p); i++ {
			m := opens(p[i])
			if m == nil {
				continue
			}
			diag := []string{m[3]}
			j := i + 1
			for ; j < len(p) && opens(p[j]) == nil; j++ {
				diag = append(diag, p[j])
			}
			addr := m[1]
			if m[2] != "" {
				// "<member@x> (expanded from <list@x>)": the address the
				// sender wrote is the one expanded (Postfix, RFC 3464
				// §2.3.1's Original-Recipient).
				addr = m[2]
			}
			out = addRecipient(out, Recipient{Address: addr, Diagnostic: joinTrim(diag)})
			i = j - 1
		}
	}
	return out
}

// eximRecipients reads Exim's indented list after "The following
// address(es) failed:": the address, then its reasons indented deeper.
func eximRecipients(text string) []Recipient {
	lines := strings.Split(text, "\n")
	start := -1
	for i, l := range lines {
		ll := strings.ToLower(l)
		if strings.Contains(ll, "address(es) failed") || strings.Contains(ll, "addresses failed") ||
			strings.Contains(ll, "recipients failed") || strings.Contains(ll, "address(es) deferred") {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil
	}
	var out []Recipient
	for i := start; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " \t\r")
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if indent(l) == 0 {
			break // the prose after the list
		}
		m := reAddress.FindStringIndex(t)
		if m == nil || m[0] > 1 {
			continue
		}
		addr := t[m[0]:m[1]]
		var diag []string
		if rest := strings.Trim(t[m[1]:], " >:"); rest != "" {
			diag = append(diag, rest)
		}
		j := i + 1
		for ; j < len(lines); j++ {
			n := strings.TrimRight(lines[j], " \t\r")
			if strings.TrimSpace(n) == "" || indent(n) <= indent(l) {
				break
			}
			diag = append(diag, n)
		}
		if len(diag) == 0 {
			// Exim 4.8x and later write the reason as the next
			// paragraph, at the margin: "SMTP error from remote server
			// after RCPT command: ... 550 user unknown".
			k := j
			for k < len(lines) && strings.TrimSpace(lines[k]) == "" {
				k++
			}
			if k < len(lines) && indent(lines[k]) == 0 && (strings.HasPrefix(strings.ToLower(strings.TrimSpace(lines[k])), "smtp error") ||
				strings.Contains(strings.ToLower(lines[k]), "host ") && k+1 < len(lines)) {
				for ; k < len(lines) && strings.TrimSpace(lines[k]) != ""; k++ {
					diag = append(diag, lines[k])
				}
			}
		}
		out = addRecipient(out, Recipient{Address: addr, Diagnostic: joinTrim(diag)})
		i = j - 1
	}
	return out
}

func indent(l string) int {
	n := 0
	for _, c := range l {
		switch c {
		case ' ':
			n++
		case '\t':
			n += 8
		default:
			return n
		}
	}
	return n
}

// gmailRecipients reads Gmail's "Your message wasn't delivered to ..." and
// the older "Delivery to the following recipient failed permanently:".
func gmailRecipients(text string) []Recipient {
	ps := paragraphs(text)
	// The remote server's own reply, when Gmail quotes it, says more than
	// Gmail's summary under "Technical details of permanent failure"
	// ("Google tried to deliver your message, but it was rejected by the
	// server for the recipient domain"), which names no cause.
	var diag, summary string
	for i, p := range ps {
		l := strings.ToLower(joinTrim(p))
		remote := strings.HasPrefix(l, "the response from the remote server was") || strings.HasPrefix(l, "the response was") ||
			strings.HasPrefix(l, "the error that the other server returned was")
		if !remote && !strings.HasPrefix(l, "technical details of") {
			continue
		}
		var d string
		if len(p) > 1 {
			d = joinTrim(p[1:])
		} else if i+1 < len(ps) {
			d = joinTrim(ps[i+1])
		}
		if remote {
			diag = d
			break
		}
		if summary == "" {
			summary = d
		}
	}
	if diag == "" {
		diag = summary
	}
	var out []Recipient
	for _, m := range reGmailTo.FindAllStringSubmatch(text, -1) {
		d := diag
		if d == "" {
			d = paragraphWith(ps, m[0])
		}
		out = addRecipient(out, Recipient{Address: strings.TrimRight(m[1], "."), Diagnostic: d})
	}
	for i, p := range ps {
		l := strings.ToLower(joinTrim(p))
		if !strings.HasPrefix(l, "delivery to the following recipient") {
			continue
		}
		// The addresses are the next paragraph, one per line.
		if i+1 < len(ps) {
			for _, a := range ps[i+1] {
				if m := reAddressLine.FindStringSubmatch(strings.TrimSpace(a)); m != nil {
					out = addRecipient(out, Recipient{Address: m[1], Diagnostic: diag})
				}
			}
		}
	}
	return out
}

func paragraphWith(ps [][]string, s string) string {
	for _, p := range ps {
		if j := joinTrim(p); strings.Contains(j, s) {
			return j
		}
	}
	return ""
}

// exchangeRecipients reads Exchange and Microsoft 365 NDRs: the address
// alone on a line followed by the server's reply ("Remote Server returned
// '550 5.1.1 ...'", or the reply itself), in the section for
// administrators; or the "Your message to ... couldn't be delivered" lead.
func exchangeRecipients(text string) []Recipient {
	lines := strings.Split(text, "\n")
	var out []Recipient
	for i := 0; i < len(lines); i++ {
		m := reAddressLine.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		var diag []string
		j := i + 1
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != ""; j++ {
			if reAddressLine.MatchString(strings.TrimSpace(lines[j])) {
				break
			}
			diag = append(diag, lines[j])
		}
		d := joinTrim(diag)
		if r := reReturned.FindStringSubmatch(d); r != nil {
			d = r[1]
		}
		if d != "" {
			out = addRecipient(out, Recipient{Address: m[1], Diagnostic: d})
		}
		i = j - 1
	}
	if m := reOutlookTo.FindStringSubmatch(text); m != nil {
		d := ""
		if r := reReturned.FindStringSubmatch(text); r != nil {
			d = r[1]
		} else {
			d = paragraphWith(paragraphs(text), m[0])
		}
		out = addRecipient(out, Recipient{Address: m[1], Diagnostic: d})
	}
	return out
}

// replyPrefix reports whether a subject starts as a person's reply or
// forward does.
func replyPrefix(subject string) bool {
	s := strings.ToLower(strings.TrimSpace(subject))
	for _, p := range []string{"re:", "re ", "aw:", "sv:", "antw:", "vs:", "ref:", "fw:", "fwd:", "wg:", "tr:", "rv:"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// aolRecipients reads AOL's notices, which name the recipients by screen
// name alone, indented under "the following recipients": the address is
// the screen name at aol.com.
func aolRecipients(text string, h textproto.MIMEHeader) []Recipient {
	from := strings.ToLower(h.Get("From"))
	if !strings.Contains(from, "@aol.com") {
		return nil
	}
	lines := strings.Split(text, "\n")
	var out []Recipient
	for i, l := range lines {
		if !strings.Contains(strings.ToLower(l), "following recipient") {
			continue
		}
		reason := strings.TrimSpace(l)
		for _, n := range lines[i+1:] {
			t := strings.TrimSpace(n)
			if t == "" && len(out) > 0 || indent(n) == 0 && t != "" {
				break
			}
			if t == "" || strings.ContainsAny(t, " @<>") {
				continue
			}
			out = addRecipient(out, Recipient{Address: strings.ToLower(t) + "@aol.com", Diagnostic: reason})
		}
		break
	}
	return out
}

// namedInOriginal serves bounces that name the failed mailbox by its local
// part alone ("thomas.doe    No matches to nameserver query", V5 Sendmail's
// "... <@example.jp>"): an address the returned copy was sent to whose
// local part the bounce's text names as a word is the recipient.
func namedInOriginal(text string, original map[string]bool) []Recipient {
	lower := strings.ToLower(text)
	var addrs []string
	for a := range original {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	var out []Recipient
	for _, a := range addrs {
		local := a[:strings.LastIndexByte(a, '@')]
		if len(local) < 3 || mailSystemLocal(a) {
			continue
		}
		i := strings.Index(lower, local)
		if i < 0 || i > 0 && !isBoundary(lower[i-1]) || i+len(local) < len(lower) && !isBoundary(lower[i+len(local)]) {
			continue
		}
		out = addRecipient(out, Recipient{Address: a, Diagnostic: diagnosisNear(text, local)})
	}
	return out
}

func isBoundary(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '<' || c == '>' || c == '"' || c == '\'' || c == ':' || c == ','
}

// viaList reports whether a bounce is about a message a mailing list
// distributed (RFC 2369 and RFC 2919 list fields, Mailman's X-BeenThere),
// in the bounce's own header or the returned copy's.
func viaList(h textproto.MIMEHeader, returned string) bool {
	for _, f := range []string{"List-Id", "List-Post", "X-Beenthere", "Mailing-List"} {
		if h.Get(f) != "" {
			return true
		}
	}
	lower := strings.ToLower(returned)
	for _, f := range []string{"\nlist-id:", "\nlist-post:", "\nx-beenthere:", "\nmailing-list:"} {
		if strings.Contains(lower, f) {
			return true
		}
	}
	return false
}
