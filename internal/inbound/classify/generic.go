package classify

import (
	"net/textproto"
	"regexp"
	"strings"

	"github.com/touchline/touchline/internal/smtpreply"
)

// Mail written by a mail system rather than a person. Any of these marks
// keeps a message from being read as a human reply (at worst it is
// unknown); the strong ones also put the bounce readers before the
// auto-reply rules, because bounces often carry Precedence or
// Auto-Submitted too.

// reBounceSubject matches the subjects mail systems give failure and delay
// notices, in the languages they are usually written in.
var reBounceSubject = regexp.MustCompile(`(?i)(undeliver|undelivered|delivery status notification|delivery notification|delivery report|mail delivery|delivery fail|failure notice|failure delivery|failed mail|mail failed|failed delivery|returned mail|returned message|bounced (mail|message|e-?mail)|mail bounced|bounce notification|return(ed)? to sender|could not send message|error sending|delivery status|delivery has failed|delivery problem|message not delivered|not delivered|could not be delivered|couldn't be delivered|non.?delivery|nondeliverable|mail could not|delivery warning|mail delivery warning|message delayed|delayed mail|delivery delayed|warning: message|mail system error|system error message|permanent delivery failure|processing error|error during delivery|delivery failure|non remis|non distribuable|unzustellbar|nicht zustellbar|non recapitabile|no se puede entregar|no entregado|onbestelbaar|não entregue|olevererbart|kan ikke leveres|ikke leveret|nie dostarczono|недоставлен|не доставлено|配信|不達|未配達|送信エラー|送信できません|エラーメール|返送|邮件传输失败|退信|未能送达|投递失败|correo devuelto|mensaje devuelto|falha na entrega|falha de entrega|mensagem devolvida|mancato recapito|impossibile recapitare|échec de (la )?(remise|distribution|livraison)|echec de (la )?(remise|distribution|livraison)|erreur de distribution|non-remise|zustellungsfehler|zustellung fehlgeschlagen|fehlgeschlagene zustellung|niet afgeleverd|niet bezorgd|ошибка доставки|не удалось доставить|送信失敗|配送失敗|系统退信|发送失败|無法投遞)`)

// reListSoftware matches the addresses mailing-list software writes from
// (Mailman's -bounces and -owner, Majordomo and LISTSERV, ezmlm, fml).
var reListSoftware = regexp.MustCompile(`(?i)[a-z0-9._-]+-(bounces|owner|request)(\+[^@]*)?@|\bowner-[a-z0-9._-]+@|\b(majordomo|listserv|mailman|ezmlm|fml)@`)

// reFmlNotice matches the addresses fml sends its own notices from.
var reFmlNotice = regexp.MustCompile(`(?i)[a-z0-9._-]+-(admin|ctl)@`)

// reListControl matches the command addresses of list software (fml's
// -ctl, Mailman's -join, -leave, -confirm, -subscribe, -unsubscribe).
var reListControl = regexp.MustCompile(`(?i)^[a-z0-9._+-]+-(ctl|join|leave|confirm|subscribe|unsubscribe)@`)

// reFilterSubject matches the subjects virus scanners, spam filters and
// content filters give their notices about a message they stopped.
var reFilterSubject = regexp.MustCompile(`(?i)(virus (alert|found|detected|warning|notification)|infected (message|mail|attachment)|\bquarantin|banned (content|attachment|file)|blocked (message|attachment|email|mail)|(message|mail|email) (was )?blocked|spam (detected|alert|notification|quarantine)|content (filter|violation)|policy violation|mailscanner|suspicious (attachment|message) (removed|blocked))`)

// reFilterFrom matches sender names of filtering systems.
var reFilterFrom = regexp.MustCompile(`(?i)\b(virus|antivirus|anti-virus|viruswall|virus-admin|quarantine|antispam|anti-spam|spam-?filter|mailscanner|amavis|content-?filter|mail-?filter|mailsweeper|mailmarshal|interscan|scanmail)\b`)

// filterNotice reports a notice from a virus or spam filter about a
// message it stopped: machine-written, never a person's reply. A person's
// "Re:" keeps its chance to be a reply unless the sender is a filter.
func filterNotice(h textproto.MIMEHeader, subject string) bool {
	if reFilterFrom.MatchString(headerText(h, "From")) {
		return true
	}
	return reFilterSubject.MatchString(subject) && !replyPrefix(subject)
}

// mailSystemFrom reports whether a From or Sender names a mail system.
func mailSystemFrom(h textproto.MIMEHeader) bool {
	for _, name := range []string{"From", "Sender"} {
		v := strings.ToLower(headerText(h, name))
		for _, w := range []string{"mailer-daemon", "mailer_daemon", "maildaemon", "mail-daemon", "mailerdaemon",
			"postmaster", "mail delivery", "mail.delivery", "microsoftexchange", "mdaemon", "mail administrator",
			"mail_service", "mail service", "smtp gateway", "smtp_gateways", "mail system", "delivery subsystem",
			"mail-router", "mailrouter", "<>", "internet mail delivery"} {
			if strings.Contains(v, w) {
				return true
			}
		}
		if strings.HasPrefix(strings.TrimSpace(v), "imss@") || strings.Contains(v, "<imss@") {
			return true // Trend Micro InterScan
		}
		if reListSoftware.MatchString(v) {
			return true
		}
	}
	return false
}

// nullReturnPath reports an RFC 5321 §4.5.5 null reverse path, the mark of
// notifications that must not be answered.
func nullReturnPath(h textproto.MIMEHeader) bool {
	for _, v := range h["Return-Path"] {
		if strings.TrimSpace(v) == "<>" {
			return true
		}
	}
	return false
}

// strongMailSystem returns why h and root look written by a mail system,
// or "": a mail-system sender, an X-Failed-Recipients field (Exim), a
// multipart/report, or a bounce subject.
func strongMailSystem(root *entity, h textproto.MIMEHeader, subject string) string {
	switch {
	case mailSystemFrom(h):
		return "from"
	case h.Get("X-Failed-Recipients") != "":
		return "x-failed-recipients"
	case h["X-Ms-Exchange-Message-Is-Ndr"] != nil, h["X-Ms-Embedded-Report"] != nil:
		// Exchange marks its own non-delivery reports.
		return "from"
	case h.Get("X-List-Administrivia") != "", h.Get("X-Ml-Error") != "", h.Get("X-Ml-Name") != "" && strings.Contains(strings.ToLower(subject), "error"):
		// Mailing-list software (Mailman, fml) writing about a message,
		// not a member writing to the list.
		return "from"
	case h.Get("X-Mlserver") != "" && reFmlNotice.MatchString(headerText(h, "From")):
		// fml writes its notices (not a member, command errors) from the
		// list's -admin or -ctl address; posts come from their authors.
		return "from"
	case root.find("multipart/report") != nil:
		return "report"
	case filterNotice(h, subject):
		return "filter"
	case reBounceSubject.MatchString(subject):
		return "subject"
	case mtaBodyMarker(root):
		return "body"
	}
	return ""
}

// mtaMarkers are sentences only mail software writes at the top of its
// reports (Exchange, Postfix, qmail, Exim, Sendmail, Gmail, Courier,
// Notes/Domino, Sun Messaging Server, OpenSMTPD).
var mtaMarkers = []string{
	"delivery has failed to these recipients", "diagnostic information for administrators",
	"this is the mail system at host", "qmail-send program", "created automatically by mail delivery software",
	"the following addresses had permanent fatal errors", "the following addresses had delivery problems",
	"automatically generated delivery status notification", "delivery to the following recipient failed permanently",
	"delivery to the following recipients failed", "this is a delivery status notification",
	"your message cannot be delivered to the following recipients", "this is the mailer-daemon, please do not reply",
	"----- transcript of session follows -----", "remote server returned '5", "remote server returned '4",
	"fehler bei der zustellung an folgende empfänger", "la remise a échoué aux destinataires",
}

// mtaBodyMarker reports a mail system's own sentence in the unquoted text
// of a message: a report that lost its sender and subject marks (a
// forwarded or re-sent NDR) is still no person's reply.
func mtaBodyMarker(root *entity) bool {
	text, _ := root.bodyText()
	var b strings.Builder
	for _, l := range strings.Split(cutOriginal(text), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), ">") {
			b.WriteString(strings.ToLower(l))
			b.WriteByte('\n')
		}
	}
	return containsAny(b.String(), mtaMarkers)
}

// Failure and delay statements of the generic reader.
var (
	failureWords = []string{
		"could not be delivered", "couldn't be delivered", "could not deliver", "not be delivered", "cannot be delivered",
		"undeliverable", "undelivered", "not delivered", "unable to deliver", "did not reach", "delivery failed",
		"delivery failure", "delivery to the following", "failed permanently", "permanent error", "fatal error",
		"failed recipient", "not a valid user", "wasn't able to deliver", "was not able to deliver", "delivery problem",
		"failed:", "following address", "following recipient", "returned", "rejected", "no such user",
		"not listed in", "failed to deliver", "encountered an error", "encountered delivery problems",
		"user unknown", "unknown user", "could not be sent", "delivery has failed", "not accepted", "is not a valid",
		"配信", "送信でき", "届きません", "宛先", "失败", "未能",
	}
	delayWords = []string{
		"has been delayed", "delayed", "not yet been delivered", "will continue to try", "will continue to attempt",
		"will retry", "still trying", "will keep trying", "delivery attempts will continue", "postponed",
		"this is just a warning", "still being retried", "no action is required", "will be retried",
		"delivery will be attempted again",
	}
)

// reCandidate finds addresses in bounce text, quoted local parts included
// (RFC 5321 §4.1.2 Quoted-string).
var reCandidate = regexp.MustCompile(`(?:"[^"\r\n@]{1,64}"|[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+)@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{1,}|\[[0-9.:A-Fa-f]+\])`)

// reHeaderLine is a header line quoted in a bounce's summary of the
// original, or a trace line: its addresses are not failed recipients.
var reHeaderLine = regexp.MustCompile(`(?i)^\s*>?\s*(from|sender|reply-to|return-path|to|cc|bcc|subject|date|sent|message-id|in-reply-to|references|received|x-[a-z0-9-]+|delivered-to|envelope-to|errors-to|list-[a-z-]+|by|for|with|id)\s*:|^\s*(by|for|with|id)\s|^\s*\(?(mail from|envelope-sender|envelope from)\b`)

// genericRecipients reads the failed recipients of a bounce whose format
// no specific reader knows: the addresses in its readable text (before the
// copy of the original), each with the words next to it. The bounce's own
// header addresses (ours: the sender the bounce returns to) and
// mail-system mailboxes are never recipients.
func genericRecipients(text string, h textproto.MIMEHeader, original map[string]bool) []Recipient {
	own := map[string]bool{}
	for _, name := range []string{"To", "Cc", "From", "Reply-To", "Return-Path", "Sender", "Delivered-To", "Envelope-To"} {
		for _, v := range h[name] {
			for _, a := range reCandidate.FindAllString(v, -1) {
				own[strings.ToLower(cleanCandidate(a))] = true
			}
		}
	}
	if fr := h.Get("X-Failed-Recipients"); fr != "" {
		// Exim names the failed recipients in its own header field.
		var out []Recipient
		for _, a := range reCandidate.FindAllString(fr, -1) {
			a = cleanCandidate(a)
			out = addRecipient(out, Recipient{Address: a, Diagnostic: diagnosisNear(text, a)})
		}
		if len(out) > 0 {
			return out
		}
	}
	lines := strings.Split(text, "\n")
	type found struct {
		addr string
		line int
		end  int // byte offset in line after the address
	}
	var cands []found
	seen := map[string]bool{}
	for i, l := range lines {
		if reHeaderLine.MatchString(l) {
			continue
		}
		for _, m := range reCandidate.FindAllStringIndex(l, -1) {
			a := cleanCandidate(l[m[0]:m[1]])
			la := strings.ToLower(a)
			if own[la] || seen[la] || mailSystemLocal(la) || inURL(l, m[0]) || afterFrom(l[:m[0]]) {
				continue
			}
			if prose(l, m[0]) && !original[la] {
				// An address in a sentence of explanation ("if
				// mike.fox@... fails, try ...") that the returned message
				// was not sent to.
				continue
			}
			seen[la] = true
			cands = append(cands, found{a, i, m[1]})
		}
	}
	// When the returned copy shows whom it was sent to and some candidates
	// are among them, the others are kept only when listed on a line of
	// their own (a forwarding target, an alias): the rest are contacts and
	// suggestions in the explanation.
	matched := false
	for _, c := range cands {
		matched = matched || original[strings.ToLower(c.addr)]
	}
	if matched {
		kept := cands[:0]
		for _, c := range cands {
			l := strings.Replace(lines[c.line], c.addr, "", 1)
			if original[strings.ToLower(c.addr)] || len(strings.Fields(strings.Trim(l, " \t<>:()\"'"))) <= 3 {
				kept = append(kept, c)
			}
		}
		cands = kept
	}
	// "(expanded from: <x>)", "(generated from x)" below an address: x is
	// the address the sender wrote (RFC 3464 §2.3.1 calls it the original
	// recipient); it names the failure, and is not a second one.
	for k := 0; k < len(cands); k++ {
		if k+1 < len(cands) && cands[k+1].line > cands[k].line && cands[k+1].line <= cands[k].line+3 &&
			reExpanded.MatchString(lines[cands[k+1].line][:strings.Index(lines[cands[k+1].line], cands[k+1].addr)]) {
			cands[k].addr = cands[k+1].addr
			cands = append(cands[:k+1], cands[k+2:]...)
		}
	}
	var out []Recipient
	for k, c := range cands {
		next := len(lines)
		if k+1 < len(cands) {
			next = cands[k+1].line
		}
		// The rest of the address's line and the lines after it, up to a
		// blank line or the next recipient.
		diag := []string{lines[c.line][c.end:]}
		j := c.line + 1
		for ; j < next && strings.TrimSpace(lines[j]) != ""; j++ {
			if !reCommand.MatchString(lines[j]) {
				diag = append(diag, lines[j])
			}
		}
		d := strings.Trim(joinTrim(diag), " :>)(,.-")
		if d == "" || strings.HasPrefix(strings.ToLower(d), "on ") && len(d) < 60 {
			// "<addr>:" alone, "ADDR on <date>": the reason is the next
			// paragraph.
			for ; j < next && strings.TrimSpace(lines[j]) == ""; j++ {
			}
			var more []string
			for ; j < next && strings.TrimSpace(lines[j]) != ""; j++ {
				if !reCommand.MatchString(lines[j]) {
					more = append(more, lines[j])
				}
			}
			d = strings.TrimSpace(d + " " + joinTrim(more))
		}
		if !informative(d) {
			// Nothing next to the address: the bounce's words about the
			// failure as a whole, when they state a cause (a code, or words
			// about the mailbox, the domain or the sender's reputation);
			// boilerplate that mentions "content" or "disabled" in passing
			// is no reason.
			var rest []string
			for _, l := range lines {
				if !reCommand.MatchString(l) && !reHeaderLine.MatchString(l) {
					rest = append(rest, l)
				}
			}
			whole := clip(joinTrim(rest), 2000)
			w := smtpreply.Words(whole)
			if parseStatus(whole).Valid() || smtpreply.FindCode(" "+whole) != 0 || w.Has(smtpreply.SaysNotFound) ||
				w.Has(smtpreply.SaysHostNotFound) || w.Has(smtpreply.SaysFull) || w.Has(smtpreply.SaysDisabledStrongly) ||
				w.Has(smtpreply.SaysNullMX) || w.Has(smtpreply.SaysBlocklist) || w.Has(smtpreply.SaysSpam) || w.Has(smtpreply.SaysAuth) ||
				w.Has(smtpreply.SaysDNSTrouble) {
				d = strings.TrimSpace(d + " " + whole)
			}
		}
		out = addRecipient(out, Recipient{Address: c.addr, Diagnostic: clip(d, 2000)})
	}
	return out
}

// informative reports whether a diagnostic carries a code or words the
// reply rules can read.
func informative(d string) bool {
	return parseStatus(d).Valid() || smtpreply.FindCode(" "+d) != 0 || smtpreply.Words(d) != 0
}

// diagnosisNear returns the words after the first mention of addr in text,
// or the text itself.
func diagnosisNear(text, addr string) string {
	l := strings.ToLower(text)
	if i := strings.Index(l, strings.ToLower(addr)); i >= 0 {
		rest := text[i+len(addr):]
		if j := strings.Index(rest, "\n\n"); j > 0 {
			rest = rest[:j]
		}
		if d := strings.Trim(joinTrim(strings.Split(rest, "\n")), " :>)(,.-"); informative(d) {
			return clip(d, 2000)
		}
	}
	return clip(joinTrim(strings.Split(text, "\n")), 2000)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// cleanCandidate drops what an address picked from text carries before
// it: "SMTP=user@host" (Exchange 5.5), "rfc822;user@host".
func cleanCandidate(a string) string {
	if !strings.HasPrefix(a, "\"") {
		if i := strings.LastIndexAny(a[:strings.LastIndexByte(a, '@')], "=;"); i >= 0 {
			a = a[i+1:]
		}
	}
	return strings.TrimRight(a, ".")
}

func mailSystemLocal(a string) bool {
	local := a[:max(strings.LastIndexByte(a, '@'), 0)]
	switch local {
	case "postmaster", "mailer-daemon", "mailer_daemon", "mailerdaemon", "maildaemon", "root":
		return true
	}
	// Mailing-list control addresses (Mailman -request, fml -ctl, ...)
	// appear in list notices as where to write; they are never the
	// failed recipient.
	return reListSoftware.MatchString(a) || reListControl.MatchString(a)
}

// inURL reports whether the address at i is part of a URL.
func inURL(line string, i int) bool {
	start := strings.LastIndexAny(line[:i], " \t<>\"'(") + 1
	tok := strings.ToLower(line[start:i])
	return strings.Contains(tok, "://") || strings.Contains(tok, "?") || strings.Contains(tok, "&")
}

// afterFrom reports whether the text just before an address introduces a
// sender ("... not accepting mail from x@y", "sender <x@y>").
func afterFrom(before string) bool {
	b := strings.ToLower(strings.TrimRight(before, " <\"'(:"))
	if strings.HasSuffix(b, "generated from") || strings.HasSuffix(b, "expanded from") {
		// Exim and Postfix name the address the sender wrote this way.
		return false
	}
	for _, w := range []string{" from", "mail from", "sender", "envelope-from", "originator", "sent by"} {
		if strings.HasSuffix(b, w) || b == strings.TrimSpace(w) {
			return true
		}
	}
	return false
}

// delayNotice reports whether the bounce's words say delivery is still
// being attempted (RFC 3464 §2.3.3 "delayed").
func delayNotice(subject, text string) bool {
	if strings.Contains(strings.ToLower(subject), "delay") {
		return true
	}
	return containsAny(strings.ToLower(subject+"\n"+text), delayWords)
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// reCommand is a client command echoed in a session transcript (">>> MAIL
// From:<...>", "Sent <<< RCPT TO:<...>"): the words are ours, not the
// server's.
var reCommand = regexp.MustCompile(`(?i)^\s*(>>>|sent\s*<<<|sending)?\s*(mail from|rcpt to|ehlo|helo|data|quit|rset)\b\s*:?`)

// prose reports whether the address at i sits in running explanation: six
// or more words before it on its line, or the words of advice.
func prose(line string, i int) bool {
	l := strings.ToLower(line)
	for _, w := range []string{"try ", "e.g.", "for example", "instead", "such as", "please contact", "send mail to", "write to", "finger "} {
		if strings.Contains(l, w) {
			return true
		}
	}
	// A line that states the failure ("There was an error delivering
	// your mail to <x>", "Sorry, unable to deliver your message to x")
	// names a recipient however long it is.
	return len(strings.Fields(line[:i])) >= 6 && !containsAny(l, failureWords) && !strings.Contains(l, "deliver")
}

// originalAddresses returns the addresses the returned message was sent
// to, as far as its copy shows: its To, Cc, Delivered-To and X-Original-To
// fields and the "for <...>" of its Received fields.
func originalAddresses(root *entity, full, text string) map[string]bool {
	out := map[string]bool{}
	add := func(region string) {
		for _, l := range strings.Split(region, "\n") {
			ll := strings.ToLower(strings.TrimSpace(strings.TrimLeft(l, "> ")))
			if !(strings.HasPrefix(ll, "to:") || strings.HasPrefix(ll, "cc:") || strings.HasPrefix(ll, "delivered-to:") ||
				strings.HasPrefix(ll, "x-original-to:") || strings.HasPrefix(ll, "envelope-to:") || strings.Contains(ll, "for <") ||
				strings.HasPrefix(ll, "for ") || strings.Contains(ll, "orcpt")) {
				continue
			}
			for _, a := range reCandidate.FindAllString(l, -1) {
				out[strings.ToLower(cleanCandidate(a))] = true
			}
		}
	}
	add(full[len(text):])
	root.walk(func(x *entity) bool {
		switch x.mediaType {
		case "message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers", "message/partial":
			b := x.body
			if i := strings.Index(string(b), "\n\n"); i >= 0 {
				b = b[:i]
			}
			add(string(b))
			return false
		}
		return true
	})
	return out
}

// reExpanded ends the text before an address that an alias or forward was
// expanded from.
var reExpanded = regexp.MustCompile(`(?i)(expanded|generated) from:?\s*<?$`)
