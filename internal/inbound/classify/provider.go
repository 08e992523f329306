package classify

import (
	"encoding/json"
	"strings"
)

// Provider notifications: Amazon SES sends bounces and complaints as JSON
// (by email, or wrapped in an SNS notification whose Message field is the
// JSON as a string). The documented shape is
// https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html.

type sesRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Action         string `json:"action"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

type sesNotice struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           *struct {
		BounceType        string         `json:"bounceType"`
		BounceSubType     string         `json:"bounceSubType"`
		BouncedRecipients []sesRecipient `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients  []sesRecipient `json:"complainedRecipients"`
		ComplaintFeedbackType string         `json:"complaintFeedbackType"`
	} `json:"complaint"`
	Delivery *json.RawMessage `json:"delivery"`
	Mail     struct {
		MessageID     string `json:"messageId"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
	} `json:"mail"`
	// SNS envelope.
	Type    string `json:"Type"`
	Message string `json:"Message"`
}

// providerNotice reads an Amazon SES JSON notification in the message's
// text. ok is false when the text is no such notification.
func providerNotice(root *entity) (Result, bool) {
	text, _ := root.bodyText()
	text = strings.TrimSpace(text)
	i := strings.IndexByte(text, '{')
	if i < 0 || i > 200 || !strings.Contains(text, "Type\"") {
		return Result{}, false
	}
	var n sesNotice
	if err := json.Unmarshal([]byte(text[i:strings.LastIndexByte(text, '}')+1]), &n); err != nil {
		// Some gateways append a footer after the JSON; decode the first
		// value only.
		if err := json.NewDecoder(strings.NewReader(text[i:])).Decode(&n); err != nil {
			return Result{}, false
		}
	}
	if n.Message != "" && strings.HasPrefix(strings.TrimSpace(n.Message), "{") {
		var inner sesNotice
		if err := json.Unmarshal([]byte(n.Message), &inner); err == nil {
			n = inner
		}
	}
	typ := strings.ToLower(n.NotificationType)
	if typ == "" {
		typ = strings.ToLower(n.EventType)
	}
	id := n.Mail.CommonHeaders.MessageID
	for _, hd := range n.Mail.Headers {
		if strings.EqualFold(hd.Name, "Message-ID") && id == "" {
			id = hd.Value
		}
	}
	if ids := msgIDs(id); len(ids) > 0 {
		id = ids[0]
	} else {
		id = ""
	}
	switch {
	case typ == "bounce" && n.Bounce != nil:
		res := Result{Class: ClassBounce, Rule: "dsn:ses-json", OriginalMessageID: id}
		transient := strings.EqualFold(n.Bounce.BounceType, "Transient")
		for _, r := range n.Bounce.BouncedRecipients {
			a := cleanAddress(r.EmailAddress)
			if !isAddress(a) || len(res.Recipients) >= maxRecipients {
				continue
			}
			action := strings.ToLower(r.Action)
			if action == "" {
				action = "failed"
			}
			diag := typedValue(r.DiagnosticCode)
			st := diagnosticStatus(r.Status, diag, !transient)
			if transient && st.Class == 5 {
				st.Class = 4
			}
			kind, reason := kindOf(st, action, diag)
			switch sub := strings.ToLower(n.Bounce.BounceSubType); {
			case sub == "noemail" && !transient:
				// SES: the receiving server said the address does not exist.
				kind, reason = Hard, "mailbox_not_found"
			case strings.Contains(sub, "suppress"):
				// SES refused to send to an address on a suppression list:
				// no new evidence about the mailbox.
				kind, reason = Soft, "suppressed"
			}
			res.Recipients = append(res.Recipients, Recipient{Address: a, Status: st.String(), Action: action, Diagnostic: diag, Kind: kind, Reason: reason})
		}
		if len(res.Recipients) == 0 {
			res.Class, res.Rule = ClassUnknown, "dsn:unparsed"
		}
		return res, true
	case typ == "complaint" && n.Complaint != nil:
		res := Result{Class: ClassComplaint, Rule: "arf:ses-json", OriginalMessageID: id, FeedbackType: strings.ToLower(n.Complaint.ComplaintFeedbackType)}
		for _, r := range n.Complaint.ComplainedRecipients {
			if a := cleanAddress(r.EmailAddress); isAddress(a) {
				res.Recipients = append(res.Recipients, Recipient{Address: a})
			}
		}
		return res, true
	case typ == "delivery":
		return Result{Class: ClassUnknown, Rule: "dsn:success", OriginalMessageID: id}, true
	}
	return Result{}, false
}
