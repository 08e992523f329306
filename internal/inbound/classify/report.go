package classify

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fieldBlock is one group of "Name: value" lines in a report body, as in
// RFC 3464 §2.1 and RFC 5965 §3.1; names are lowercased.
type fieldBlock map[string][]string

func (b fieldBlock) get(name string) string {
	if v := b[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseBlocks splits a delivery-status or feedback-report body into blocks
// separated by blank lines, unfolding continuation lines.
func parseBlocks(body string) []fieldBlock {
	var blocks []fieldBlock
	cur := fieldBlock{}
	last := ""
	var value []string
	end := func() {
		if last != "" {
			cur[last] = append(cur[last], strings.Join(value, " "))
		}
		last, value = "", nil
	}
	flush := func() {
		end()
		if len(cur) > 0 {
			blocks = append(blocks, cur)
		}
		cur = fieldBlock{}
	}
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			value = append(value, strings.TrimSpace(line))
			continue
		}
		end()
		i := strings.IndexByte(line, ':')
		if i <= 0 || strings.ContainsAny(line[:i], " \t") {
			continue
		}
		name := strings.ToLower(strings.TrimSpace(line[:i]))
		// Some MTAs write recipient blocks without the blank line RFC 3464
		// §2.1 puts between them: a second Final-Recipient (or an
		// Original-Recipient after a complete block) starts a new one.
		if _, dup := cur[name]; dup && (name == "final-recipient" || name == "original-recipient") ||
			name == "original-recipient" && cur["final-recipient"] != nil && (cur["action"] != nil || cur["status"] != nil) {
			flush()
		}
		last = name
		value = []string{strings.TrimSpace(line[i+1:])}
	}
	flush()
	return blocks
}

// typedValue strips the type of an RFC 3464 typed field ("rfc822;
// jane@example.com", "smtp; 550 5.1.1 ...").
func typedValue(v string) string {
	for n := 0; n < 3; n++ {
		// Some MTAs repeat the type ("rfc822; rfc822;jane@example.com").
		i := strings.IndexByte(v, ';')
		if i < 0 || i >= 16 || strings.ContainsAny(v[:i], " @<\"") {
			break
		}
		v = strings.TrimSpace(v[i+1:])
	}
	return strings.TrimSpace(v)
}

func cleanAddress(a string) string {
	a = strings.TrimSpace(a)
	if i := strings.LastIndexByte(a, '<'); i >= 0 {
		if j := strings.IndexByte(a[i:], '>'); j > 0 {
			a = a[i+1 : i+j]
		}
	}
	a = strings.Trim(a, "<>' \t")
	if strings.HasPrefix(a, "@") {
		// An RFC 5321 §4.1.2 source route ("@relay.example:jane@example.com"):
		// the mailbox is after the colon; a host alone names no mailbox.
		if i := strings.LastIndexByte(a, ':'); i > 0 {
			a = a[i+1:]
		} else {
			return ""
		}
	}
	a = decodeXtext(a)
	if strings.Count(a, "\"") == 1 || strings.HasPrefix(a, "\"") && strings.HasSuffix(a, "\"") {
		// A stray quote around the whole address, not a quoted local part.
		a = strings.Trim(a, "\"")
	}
	return strings.TrimSuffix(a, ".")
}

// isAddress reports whether a looks like addr-spec: a local part, an "@"
// and a domain with a dot (or a bracketed literal). "@mx.example.org" (a
// host named without a mailbox), "LOCAL;<f.b>" and X.400 names are not.
func isAddress(a string) bool {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return false
	}
	local := a[:at]
	if !(len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"') && strings.ContainsAny(local, " \t<>,") ||
		strings.ContainsAny(a[at:], " \t<>,\"") {
		// White space is only allowed in a quoted local part (RFC 5321
		// §4.1.2 Quoted-string).
		return false
	}
	d := a[at+1:]
	return strings.Contains(d, ".") || strings.HasPrefix(d, "[")
}

// decodeXtext undoes the escapes an address may carry in a report: RFC
// 3461 §4 xtext ("+2B" for "+") in rfc822 addresses and RFC 6533 §3
// "\x{HEX}" in utf-8 ones.
func decodeXtext(a string) string {
	if !strings.Contains(a, "+") && !strings.Contains(a, "\\x{") {
		return a
	}
	var b strings.Builder
	for i := 0; i < len(a); i++ {
		switch {
		case a[i] == '+' && i+2 < len(a) && isHex(a[i+1]) && isHex(a[i+2]) && strings.ToUpper(a[i+1:i+3]) == a[i+1:i+3]:
			v, _ := strconv.ParseUint(a[i+1:i+3], 16, 8)
			if v > 32 && v < 127 {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
			b.WriteByte(a[i])
		case strings.HasPrefix(a[i:], "\\x{"):
			if j := strings.IndexByte(a[i:], '}'); j > 3 {
				if v, err := strconv.ParseUint(a[i+3:i+j], 16, 32); err == nil && utf8.ValidRune(rune(v)) {
					b.WriteRune(rune(v))
					i += j
					continue
				}
			}
			b.WriteByte(a[i])
		default:
			b.WriteByte(a[i])
		}
	}
	return b.String()
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f' }

// recipientOf names a report block's recipient: the Original-Recipient when
// it is an address (RFC 3464 §2.3.1: the address the sender wrote, the one
// Touchline can match), else the Final-Recipient.
func recipientOf(b fieldBlock) string {
	if a := cleanAddress(typedValue(b.get("original-recipient"))); isAddress(a) {
		return a
	}
	if a := cleanAddress(typedValue(b.get("final-recipient"))); isAddress(a) {
		return a
	}
	if a := cleanAddress(typedValue(b.get("x-actual-recipient"))); isAddress(a) {
		return a
	}
	return ""
}

// reportOf returns the first multipart/report (depth first) whose
// report-type is typ, not looking inside attached messages.
func reportOf(root *entity, typ string) *entity {
	var found *entity
	root.walk(func(x *entity) bool {
		if found != nil {
			return false
		}
		if x.mediaType == "multipart/report" && strings.EqualFold(x.params["report-type"], typ) {
			found = x
			return false
		}
		return x == root || !strings.HasPrefix(x.mediaType, "message/rfc822")
	})
	return found
}

// originalHeaderID returns the Message-ID of the original message a report
// carries as message/rfc822, message/global, text/rfc822-headers or
// message/global-headers.
func originalHeaderID(e *entity) string {
	var id string
	e.walk(func(x *entity) bool {
		if id != "" {
			return false
		}
		switch x.mediaType {
		case "message/rfc822", "message/global":
			if len(x.parts) > 0 {
				if ids := msgIDs(x.parts[0].header.Get("Message-Id")); len(ids) > 0 {
					id = ids[0]
				}
			} else if h, _, ok := parseHeader(x.body); ok {
				if ids := msgIDs(h.Get("Message-Id")); len(ids) > 0 {
					id = ids[0]
				}
			}
			return false
		case "text/rfc822-headers", "message/global-headers":
			if h, _, ok := parseHeader(x.body); ok {
				if ids := msgIDs(h.Get("Message-Id")); len(ids) > 0 {
					id = ids[0]
				}
			}
			return false
		}
		return true
	})
	return id
}

// complaint reads an RFC 5965 feedback report.
func complaint(root *entity) (Result, bool) {
	rep := reportOf(root, "feedback-report")
	var fb *entity
	if rep != nil {
		fb = rep.find("message/feedback-report")
	} else {
		fb = root.find("message/feedback-report")
		rep = root
	}
	if fb == nil && rep == root {
		return Result{}, false
	}
	res := Result{Class: ClassComplaint, Rule: "arf", OriginalMessageID: originalHeaderID(rep)}
	if fb != nil {
		for _, b := range parseBlocks(toUTF8(fb.body, "")) {
			if t := b.get("feedback-type"); t != "" && res.FeedbackType == "" {
				res.FeedbackType = strings.ToLower(strings.TrimSpace(t))
			}
			for _, r := range b["original-rcpt-to"] {
				if a := cleanAddress(r); a != "" {
					res.Recipients = append(res.Recipients, Recipient{Address: a})
				}
			}
		}
	}
	return res, true
}

// RFC 3464 §2.3.2 and §2.3.3 fields at the start of a line.
var (
	reFieldFinalRecipient = regexp.MustCompile(`(?mi)^final-recipient:[ \t]*\S+;`)
	reFieldAction         = regexp.MustCompile(`(?mi)^action:[ \t]*(failed|failure|delayed|delivered|relayed|expanded|deliverable)\b`)
)

// deliveryStatus reads an RFC 3464 (or RFC 6533) delivery status
// notification. ok is false when the message is no such report; a report
// in which no recipient could be read returns ok with no recipients.
// Broken reports are read as far as they go: a delivery-status part
// without the multipart/report around it, report fields written into the
// text part, recipient blocks without blank lines between them.
func deliveryStatus(root *entity) (res Result, ok bool) {
	rep := reportOf(root, "delivery-status")
	if rep == nil {
		rep = reportOf(root, "global-delivery-status")
	}
	var ds *entity
	if rep != nil {
		ds = rep.find("message/delivery-status")
		if ds == nil {
			ds = rep.find("message/global-delivery-status")
		}
	} else if strings.EqualFold(root.params["report-type"], "delivery-status") {
		// A report forwarded inside a message that still says it is one
		// (multipart/mixed; report-type=delivery-status).
		root.walk(func(x *entity) bool {
			if ds == nil && (x.mediaType == "message/delivery-status" || x.mediaType == "message/global-delivery-status") {
				ds = x
			}
			return ds == nil
		})
		if ds == nil {
			return Result{}, false
		}
		rep = root
	} else {
		// A delivery-status part without the report wrapper, as some
		// gateways send.
		if ds = root.find("message/delivery-status"); ds == nil {
			if ds = root.find("message/global-delivery-status"); ds == nil {
				// Nor that: RFC 3464 fields written as plain text at the
				// margin of the message's own text (not a quoted copy).
				t, _ := root.bodyText()
				t = cutOriginal(t)
				if !reFieldFinalRecipient.MatchString(t) || !reFieldAction.MatchString(t) {
					return Result{}, false
				}
			}
		}
		rep = root
	}
	res = Result{Class: ClassBounce, Rule: "dsn:rfc3464", OriginalMessageID: originalHeaderID(rep)}
	var body string
	if ds != nil {
		body = toUTF8(ds.body, "utf-8")
	}
	if !strings.Contains(strings.ToLower(body), "recipient:") {
		// The fields written into the human-readable part instead.
		if t, _ := rep.bodyText(); strings.Contains(strings.ToLower(t), "final-recipient:") {
			body = t[strings.Index(strings.ToLower(t), "final-recipient:"):]
		}
	}
	res.Recipients, res.Rule = readStatusBlocks(body, res.Rule)
	if res.Rule == "dsn:success" {
		res.Class = ClassUnknown
	}
	return res, true
}

// readStatusBlocks reads the per-recipient blocks of a delivery-status
// body. A report whose recipients all succeeded returns rule "dsn:success".
func readStatusBlocks(body, rule string) ([]Recipient, string) {
	var out []Recipient
	success := 0
	for _, b := range parseBlocks(body) {
		addr := recipientOf(b)
		action := strings.ToLower(strings.TrimSpace(b.get("action")))
		if f := strings.Fields(action); len(f) > 0 {
			// "failed (bad destination mailbox address)", "failure".
			action = strings.TrimRight(f[0], ";,.")
		}
		if action == "failure" {
			action = "failed"
		}
		if addr == "" && action == "" && b.get("status") == "" {
			continue // the per-message block, or noise
		}
		diag := typedValue(b.get("diagnostic-code"))
		field := b.get("status")
		if st := parseStatus(field); !st.Valid() && strings.TrimSpace(field) != "" {
			// "Status: 553 Exceeded maximum inbound message size": the
			// words belong to the diagnosis.
			diag = strings.TrimSpace(field + " " + diag)
		}
		if x := b.get("x400-supplementary-info"); x != "" {
			diag = strings.TrimSpace(diag + " " + x)
		}
		st := diagnosticStatus(field, diag, action != "delayed")
		if action == "" {
			switch st.Class {
			case 2:
				action = "delivered"
			case 4:
				action = "delayed"
			default:
				action = "failed"
			}
		}
		switch {
		case action == "delivered", action == "relayed", action == "expanded", action == "deliverable",
			parseStatus(field).Class == 2:
			// RFC 3464 §2.3.3 success actions, and any 2.x.x status
			// (RFC 3463 §3.1: success), whatever else the block says.
			success++
			continue
		}
		if addr == "" && diag == "" && field == "" || len(out) >= maxRecipients {
			continue
		}
		kind, reason := kindOf(st, action, diag)
		out = append(out, Recipient{
			Address: addr, Status: st.String(), Action: action, Diagnostic: diag, Kind: kind, Reason: reason,
		})
	}
	if len(out) == 0 && success > 0 {
		return nil, "dsn:success"
	}
	return out, rule
}
