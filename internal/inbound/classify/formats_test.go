package classify

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"
)

// These tests pin the rules of issue 11 one at a time, on messages built in
// the shapes the RFCs and the providers' documentation give. The real-mail
// figures are in TestRealBounceCorpora.

// report builds an RFC 3464 report around a delivery-status body.
func report(fields string) string {
	return "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n" +
		"To: bounces+42@acme-sales.example\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n" +
		strings.ReplaceAll(fields, "\n", "\r\n") + "\r\n--B--\r\n"
}

type rcptWant struct {
	addr   string
	kind   BounceKind
	reason string
}

func checkRecipients(t *testing.T, name, raw string, class Class, want ...rcptWant) {
	t.Helper()
	res, err := Classify([]byte(raw))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.Class != class {
		t.Errorf("%s: class %s (rule %s), want %s", name, res.Class, res.Rule, class)
	}
	if len(res.Recipients) != len(want) {
		t.Errorf("%s: %d recipients %+v, want %d", name, len(res.Recipients), res.Recipients, len(want))
		return
	}
	for i, w := range want {
		r := res.Recipients[i]
		if r.Address != w.addr || r.Kind != w.kind || w.reason != "" && r.Reason != w.reason {
			t.Errorf("%s: recipient %d = %s %s %s (%s %q), want %s %s %s", name, i, r.Address, r.Kind, r.Reason, r.Status, r.Diagnostic, w.addr, w.kind, w.reason)
		}
	}
}

func TestReportTolerance(t *testing.T) {
	t.Parallel()
	// RFC 3464 §2.3.4 allows comments: "5.0.0 (permanent failure)".
	checkRecipients(t, "status comment", report("Final-Recipient: rfc822; jane@example.com\nAction: failed\nStatus: 5.0.0 (permanent failure)\nDiagnostic-Code: smtp; 550 5.1.1 <jane@example.com>: user unknown\n"),
		ClassBounce, rcptWant{"jane@example.com", Hard, "mailbox_not_found"})
	// Two recipient blocks without the blank line between them.
	checkRecipients(t, "no blank line", report("Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\nFinal-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.2.2\n"),
		ClassBounce, rcptWant{"a@example.com", Hard, ""}, rcptWant{"b@example.com", Soft, "mailbox_full"})
	// Original-Recipient is the address the sender wrote (RFC 3464 §2.3.1).
	checkRecipients(t, "original recipient", report("Original-Recipient: rfc822;sales@example.com\nFinal-Recipient: rfc822; jane.local@mail.example.com\nAction: failed\nStatus: 5.1.1\n"),
		ClassBounce, rcptWant{"sales@example.com", Hard, ""})
	// A quoted local part (RFC 5321 §4.1.2) and an RFC 6533 utf-8 address.
	checkRecipients(t, "quoted local part", report("Final-Recipient: rfc822; \"john doe\"@example.com\nAction: failed\nStatus: 5.1.1\n"),
		ClassBounce, rcptWant{"\"john doe\"@example.com", Hard, ""})
	checkRecipients(t, "global address", report("Final-Recipient: utf-8; j\\x{00F6}rg@example.de\nAction: failed\nStatus: 5.1.1\n"),
		ClassBounce, rcptWant{"jörg@example.de", Hard, ""})
	// A report that names only a host names no recipient.
	checkRecipients(t, "host only", report("Final-Recipient: rfc822; @mx.example.org\nAction: failed\nStatus: 5.4.4\n"), ClassBounce,
		rcptWant{"", Soft, ""})
	// A lost boundary parameter: the body's own delimiter is used.
	lost := strings.Replace(report("Final-Recipient: rfc822; jane@example.com\nAction: failed\nStatus: 5.1.1\n"), "; boundary=\"B\"", "", 1)
	checkRecipients(t, "lost boundary", lost, ClassBounce, rcptWant{"jane@example.com", Hard, ""})
}

func TestSuccessIsNeverAFailure(t *testing.T) {
	t.Parallel()
	for _, fields := range []string{
		"Final-Recipient: rfc822; jane@example.com\nAction: deliverable\nStatus: 2.1.5\n",
		"Final-Recipient: rfc822; jane@example.com\nAction: delivered\nStatus: 2.0.0\nDiagnostic-Code: smtp; 250 2.0.0 ok\n",
		// A 2.x.x status decides even beside a contradictory action.
		"Final-Recipient: rfc822; jane@example.com\nAction: failed\nStatus: 2.0.0\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n",
	} {
		res, _ := Classify([]byte(report(fields)))
		if res.Class != ClassUnknown || res.Rule != "dsn:success" || len(res.Recipients) != 0 {
			t.Errorf("%q: %s %s %+v, want unknown dsn:success", fields, res.Class, res.Rule, res.Recipients)
		}
	}
}

func TestCodesThatDisagree(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, fields string
		want         rcptWant
	}{
		// Outer 5.1.0 around an inner 5.2.2 (Amazon SES): the inner code
		// decides the detail.
		{"outer vs inner", "Final-Recipient: rfc822; jane@example.com\nAction: failed\nStatus: 5.1.0\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\n", rcptWant{"jane@example.com", Soft, "mailbox_full"}},
		// Code against words: the words are about the sender's IP.
		{"rate words", "Final-Recipient: rfc822; jane@example.com\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 Your IP has sent to too many recipients this hour\n", rcptWant{"jane@example.com", Sender, "rate_limited"}},
		// The bracketed address is the sender's.
		{"sender rejected", "Final-Recipient: rfc822; jane@example.com\nAction: failed\nStatus: 5.1.0\nDiagnostic-Code: smtp; 550 5.1.0 <bounces+42@acme-sales.example> sender rejected\n", rcptWant{"jane@example.com", Sender, "sender_address"}},
		// Gmail's "does not exist" with other words in the text.
		{"gmail", "Final-Recipient: rfc822; jane@example.com\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser - gsmtp\n", rcptWant{"jane@example.com", Hard, "mailbox_not_found"}},
		// RFC 7505 null MX reported as 5.7.27 by the sending MTA.
		{"null mx 5.7.27", "Final-Recipient: rfc822; info@parked.example\nAction: failed\nStatus: 5.7.27\nDiagnostic-Code: X-Postfix; Host does not accept mail\n", rcptWant{"info@parked.example", Hard, "null_mx"}},
		// DNS trouble is not a dead domain.
		{"dns try again", "Final-Recipient: rfc822; jane@example.org\nAction: failed\nStatus: 5.4.4\nDiagnostic-Code: X-Postfix; Name service error for name=example.org type=MX: Host not found, try again\n", rcptWant{"jane@example.org", Soft, ""}},
		{"dns malformed", "Final-Recipient: rfc822; jane@example.org\nAction: failed\nStatus: 5.4.4\nDiagnostic-Code: X-Postfix; Name service error for name=example.org type=MX: Malformed or unexpected name server reply\n", rcptWant{"jane@example.org", Soft, ""}},
		{"nxdomain", "Final-Recipient: rfc822; jane@example.invalid\nAction: failed\nStatus: 5.4.4\nDiagnostic-Code: X-Postfix; Host or domain name not found. Name service error for name=example.invalid type=A: Host not found\n", rcptWant{"jane@example.invalid", Hard, "host_not_found"}},
	}
	for _, tc := range cases {
		checkRecipients(t, tc.name, report(tc.fields), ClassBounce, tc.want)
	}
}

func TestAmazonSESNotifications(t *testing.T) {
	t.Parallel()
	head := "From: no-reply@sns.amazonaws.com\r\nTo: bounces@acme-sales.example\r\nSubject: AWS Notification Message\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
	bounce := `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"jane@example.com","action":"failed","status":"5.1.0","diagnosticCode":"smtp; 552 5.2.2 Mailbox full"},{"emailAddress":"joe@example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]},"mail":{"messageId":"0100","commonHeaders":{"messageId":"<abc@acme-sales.example>"}}}`
	checkRecipients(t, "ses bounce", head+bounce, ClassBounce, rcptWant{"jane@example.com", Soft, "mailbox_full"}, rcptWant{"joe@example.com", Hard, "mailbox_not_found"})
	res, _ := Classify([]byte(head + bounce))
	if res.OriginalMessageID != "<abc@acme-sales.example>" {
		t.Errorf("ses OriginalMessageID = %q", res.OriginalMessageID)
	}
	// Wrapped in an SNS notification, the JSON is a string.
	sns := `{"Type":"Notification","MessageId":"x","Message":"` + strings.ReplaceAll(bounce, `"`, `\"`) + `"}`
	checkRecipients(t, "ses sns", head+sns, ClassBounce, rcptWant{"jane@example.com", Soft, "mailbox_full"}, rcptWant{"joe@example.com", Hard, ""})
	complaint := `{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"jane@example.com"}],"complaintFeedbackType":"abuse"},"mail":{"messageId":"0100"}}`
	res, _ = Classify([]byte(head + complaint))
	if res.Class != ClassComplaint || res.FeedbackType != "abuse" || len(res.Recipients) != 1 {
		t.Errorf("ses complaint: %s %s %+v", res.Class, res.FeedbackType, res.Recipients)
	}
}

func TestJapaneseCarrierBounce(t *testing.T) {
	t.Parallel()
	enc := japanese.ISO2022JP.NewEncoder()
	body, err := enc.String("次のアドレスへのメール配信に失敗しました。\r\n\r\n<taro@example.jp>\r\n宛先のメールボックスの容量がいっぱいです。\r\n")
	if err != nil {
		t.Fatal(err)
	}
	raw := "From: MAILER-DAEMON@ezweb.example.jp\r\nTo: bounces@acme-sales.example\r\nSubject: =?ISO-2022-JP?B?GyRCJWEhPCVrR1s/LiUoJWkhPBsoQg==?=\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n" + body
	checkRecipients(t, "iso-2022-jp", raw, ClassBounce, rcptWant{"taro@example.jp", Soft, "mailbox_full"})
}

// TestMailSystemsAreNeverHuman: whatever a mail system writes, it is never
// a person's reply (issue 11).
func TestMailSystemsAreNeverHuman(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string]string{
		"mailer-daemon notice":  "From: MAILER-DAEMON@mx.example.net\r\nTo: rep@acme-sales.example\r\nSubject: Notice\r\n\r\nSomething happened to your message.\r\n",
		"null return path":      "Return-Path: <>\r\nFrom: robot@example.net\r\nTo: rep@acme-sales.example\r\nSubject: Hello\r\n\r\nThis is a notification.\r\n",
		"bounce subject":        "From: admin@example.net\r\nTo: rep@acme-sales.example\r\nSubject: Undeliverable: Quick question\r\n\r\nThe message could not be handled.\r\n",
		"x-failed-recipients":   "From: someone@example.net\r\nX-Failed-Recipients: jane@example.com\r\nTo: rep@acme-sales.example\r\nSubject: Hi\r\n\r\nThe following address failed.\r\n",
		"japanese subject":      "From: info@example.jp\r\nTo: rep@acme-sales.example\r\nSubject: =?UTF-8?B?44Oh44O844Or6YWN5L+h44Ko44Op44O8?=\r\n\r\nText.\r\n",
		"mailing-list software": "From: sales-talk-bounces@lists.example.org\r\nTo: rep@acme-sales.example\r\nSubject: Your message to Sales-talk awaits moderator approval\r\n\r\nYour mail to 'Sales-talk' is being held until the list moderator can review it.\r\n",
	} {
		res, err := Classify([]byte(raw))
		if err != nil || res.Class == ClassHumanReply {
			t.Errorf("%s: %s (%s) %v", name, res.Class, res.Rule, err)
		}
	}
	// A person's reply that mentions delivery stays a reply.
	res, _ := Classify([]byte("From: jane@example.com\r\nTo: rep@acme-sales.example\r\nSubject: Re: delivery report for Q3\r\nIn-Reply-To: <a@acme-sales.example>\r\n\r\nThanks, send me the numbers and I'll have a look this week when I'm back at my desk.\r\n"))
	if res.Class != ClassHumanReply {
		t.Errorf("person's reply: %s (%s)", res.Class, res.Rule)
	}
	res, _ = Classify([]byte("From: jane@example.com\r\nTo: rep@acme-sales.example\r\nSubject: Re: parcel not delivered\r\n\r\nThe parcel was not delivered to our office; please write to ops@example.com about it.\r\n"))
	if res.Class != ClassHumanReply {
		t.Errorf("person's reply about a parcel: %s (%s) %+v", res.Class, res.Rule, res.Recipients)
	}
}
