package classify

import (
	"strings"
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
		if i <= 0 {
			continue
		}
		last = strings.ToLower(strings.TrimSpace(line[:i]))
		value = []string{strings.TrimSpace(line[i+1:])}
	}
	flush()
	return blocks
}

// typedValue strips the type of an RFC 3464 typed field ("rfc822;
// jane@example.com", "smtp; 550 5.1.1 ...").
func typedValue(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 && i < 16 && !strings.ContainsAny(v[:i], " @<") {
		v = v[i+1:]
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
	return strings.Trim(a, "<>\"' ")
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

// deliveryStatus reads an RFC 3464 (or RFC 6533) delivery status
// notification. ok is false when the message is no such report; a report
// in which no recipient could be read returns ok with no recipients.
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
	} else {
		// A delivery-status part without the report wrapper, as some
		// gateways send.
		if ds = root.find("message/delivery-status"); ds == nil {
			return Result{}, false
		}
		rep = root
	}
	res = Result{Class: ClassBounce, Rule: "dsn:rfc3464", OriginalMessageID: originalHeaderID(rep)}
	if ds == nil {
		return res, true
	}
	success := 0
	for i, b := range parseBlocks(toUTF8(ds.body, "utf-8")) {
		addr := cleanAddress(typedValue(b.get("final-recipient")))
		if addr == "" {
			addr = cleanAddress(typedValue(b.get("original-recipient")))
		}
		action := strings.ToLower(strings.TrimSpace(b.get("action")))
		if i == 0 && addr == "" && action == "" {
			continue // the per-message block
		}
		diag := typedValue(b.get("diagnostic-code"))
		st := diagnosticStatus(b.get("status"), diag, action != "delayed")
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
		switch action {
		case "delivered", "relayed", "expanded":
			success++
			continue
		}
		if addr == "" && diag == "" && b.get("status") == "" || len(res.Recipients) >= maxRecipients {
			continue
		}
		kind, reason := kindOf(st, action, diag)
		res.Recipients = append(res.Recipients, Recipient{
			Address: addr, Status: st.String(), Action: action, Diagnostic: diag, Kind: kind, Reason: reason,
		})
	}
	if len(res.Recipients) == 0 && success > 0 {
		res.Class, res.Rule = ClassUnknown, "dsn:success"
	}
	return res, true
}
