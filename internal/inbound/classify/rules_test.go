package classify

import (
	"strings"
	"testing"
	"time"
)

// TestKind checks the bounce table on real reply texts, one per row.
func TestKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status, action, diag string
		kind                 BounceKind
		reason               string
	}{
		{"5.1.1", "failed", "550 5.1.1 The email account that you tried to reach does not exist.", Hard, "mailbox_not_found"},
		{"5.1.10", "failed", "Domain example.net does not accept mail (nullMX)", Hard, "null_mx"},
		{"5.1.2", "failed", "Host or domain name not found. Name service error for name=example.invalid type=MX: Host not found", Hard, "host_not_found"},
		{"5.1.6", "failed", "551 5.1.6 User has moved", Hard, "moved"},
		{"5.2.1", "failed", "550 5.2.1 The email account that you tried to reach is disabled.", Hard, "mailbox_disabled"},
		{"5.2.2", "failed", "552 5.2.2 The email account that you tried to reach is over quota.", Soft, "mailbox_full"},
		{"4.2.2", "delayed", "452 4.2.2 Mailbox full", Soft, "mailbox_full"},
		{"4.4.7", "failed", "delivery temporarily suspended", Soft, "temporary"},
		{"5.4.7", "failed", "Delivery expired (message too old)", Soft, "expired"},
		{"4.7.26", "failed", "421-4.7.26 This mail has been rate limited because it is unauthenticated.", Sender, "authentication"},
		{"4.7.32", "failed", "421-4.7.32 The From header is not aligned", Sender, "authentication"},
		{"4.7.26", "delayed", "421-4.7.26 unauthenticated", Soft, "authentication"},
		{"5.7.26", "failed", "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy.", Sender, "authentication"},
		{"5.7.515", "failed", "550 5.7.515 Access denied, sending domain example.com doesn't meet the required authentication level.", Sender, "authentication"},
		{"5.7.1", "failed", "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", Sender, "blocklist"},
		{"5.7.1", "failed", "550 5.7.1 <jane@example.com>: Recipient address rejected: User does not exist", Hard, "mailbox_not_found"},
		{"5.7.606", "failed", "550 5.7.606 Access denied, banned sending IP [192.0.2.1].", Sender, "policy"},
		{"5.0.0", "failed", "550 Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.1", Sender, "blocklist"},
		{"5.0.0", "failed", "550 Requested action not taken: mailbox unavailable", Hard, "mailbox_not_found"},
		{"5.0.0", "failed", "554 Transaction failed", Soft, "unknown"},
		{"5.1.8", "failed", "553 5.1.8 <b@bounces.example>: Sender address rejected: Domain not found", Sender, "sender_address"},
		{"5.3.4", "failed", "552 5.3.4 Message size exceeds fixed limit", Sender, "message_rejected"},
		{"5.4.1", "failed", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", Hard, "mailbox_not_found"},
	} {
		st := diagnosticStatus(tc.status, tc.diag, tc.action != "delayed")
		kind, reason := kindOf(st, tc.action, tc.diag)
		if kind != tc.kind || reason != tc.reason {
			t.Errorf("%s %s %q = %s %s, want %s %s", tc.status, tc.action, tc.diag, kind, reason, tc.kind, tc.reason)
		}
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"550-5.7.26 Unauthenticated":               "5.7.26",
		"#550 5.1.1 RESOLVER.ADR.RecipNotFound":    "5.1.1",
		"no mailbox here by that name. (#5.1.1)":   "5.1.1",
		"host [192.0.2.51] said: 550 user unknown": "",
		"version 10.5.1.1 of the server":           "",
		"550 5.1.10 RESOLVER":                      "5.1.10",
	} {
		if got := parseStatus(" " + in).String(); got != want {
			t.Errorf("parseStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReturnDate(t *testing.T) {
	t.Parallel()
	ref := time.Date(2026, time.March, 2, 9, 30, 0, 0, time.FixedZone("CET", 3600)) // a Monday
	for _, tc := range []struct{ text, want string }{
		{"I am out of the office until 12/05.", "2026-05-12"},              // 5 Dec is nine months off; 12 May is nearer
		{"Back on Monday 9 March.", "2026-03-09"},                          // weekday and date agree
		{"I'm back on Thursday.", "2026-03-05"},                            // weekday alone
		{"I will return on March 10th, 2026.", "2026-03-10"},               // month first, ordinal, year
		{"Out from 2 March until 6 March, back on 9 March.", "2026-03-09"}, // return word beats until
		{"Out through March 6.", "2026-03-07"},                             // inclusive
		{"Ich bin bis zum 06.03. nicht im Büro und ab dem 09.03. wieder erreichbar.", "2026-03-09"},
		{"Je serai absent jusqu'au 6 mars inclus.", "2026-03-07"},
		{"Ik ben tot en met 6 maart afwezig.", "2026-03-07"},
		{"Estaré de vacaciones del 2 al 13 de marzo de 2026.", "2026-03-13"}, // no keyword on the date: latest
		{"Sarò di ritorno il 16 marzo.", "2026-03-16"},
		{"Jag är tillbaka måndag 16 mars.", "2026-03-16"},
		{"Olen poissa 13.3. asti.", "2026-03-13"},
		{"Back 2026-01-05.", ""}, // in the past
		{"I'm out of the office with limited access to email.", ""},
		{"Happy new year! Back on 5 January.", "2027-01-05"}, // next occurrence
		{"Please call my office on Monday.", ""},             // a weekday without a return word
	} {
		got := ""
		if d := returnDate(tc.text, ref, true); d != nil {
			got = d.Format("2006-01-02")
		}
		if got != tc.want {
			t.Errorf("returnDate(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	// Without a Date header only dates with a year count.
	if d := returnDate("Back on 9 March.", time.Time{}, false); d != nil {
		t.Errorf("no reference: got %v, want nil", d)
	}
	if d := returnDate("Back on 9 March 2026.", time.Time{}, false); d == nil || d.Format("2006-01-02") != "2026-03-09" {
		t.Errorf("no reference, year stated: got %v", d)
	}
}

func TestAutoReplyHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		headers string
		class   Class
		rule    string
	}{
		{"Auto-Submitted: no\n", ClassHumanReply, "human"},
		{"Auto-Submitted: auto-replied; owner-email=\"jane@example.com\"\n", ClassAutoReply, "auto:auto-submitted"},
		{"X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply\n", ClassHumanReply, "human"},
		{"Precedence: junk\n", ClassAutoReply, "auto:precedence"},
		{"Precedence: first-class\n", ClassHumanReply, "human"},
	} {
		raw := "From: jane@example.com\nTo: sam@acme-sales.example\nSubject: Re: Quick question\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n" +
			tc.headers + "\nThanks Sam, let me think about it and come back to you next week.\n"
		res, err := Classify([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if res.Class != tc.class || res.Rule != tc.rule {
			t.Errorf("%q: %s %s, want %s %s", tc.headers, res.Class, res.Rule, tc.class, tc.rule)
		}
	}
}

func TestAutoReplySubjects(t *testing.T) {
	t.Parallel()
	for subject, want := range map[string]string{
		"Automatic reply: Quick question":            "en",
		"[EXTERNAL] Out of Office: Quick question":   "en",
		"Abwesenheitsnotiz: Kurze Frage":             "de",
		"Réponse automatique : Question":             "fr",
		"Absence du bureau":                          "fr",
		"Fuera de la oficina: Pregunta":              "es",
		"Ausente: Pergunta rápida":                   "pt",
		"Automatisch antwoord: Vraag":                "nl",
		"Fuori ufficio: Domanda":                     "it",
		"Automatiskt svar: Fråga":                    "sv",
		"Fravær: Spørsmål":                           "no",
		"Autosvar: Spørgsmål":                        "nordic",
		"Re: Quick question":                         "",
		"Re: Absence management software for nurses": "",
		"Awaygame tickets":                           "",
	} {
		if got := autoReplySubject(subject); got != want {
			t.Errorf("autoReplySubject(%q) = %q, want %q", subject, got, want)
		}
	}
}

func TestUnsubscribeLength(t *testing.T) {
	t.Parallel()
	short := "Please remove me from your list."
	long := "Hi Sam, " + strings.Repeat("we are evaluating options this quarter and ", 6) + "please remove me from the CC of the other thread."
	for text, want := range map[string]Class{short: ClassUnsubscribe, long: ClassHumanReply} {
		raw := "From: jane@example.com\nSubject: Re: Quick question\n\n" + text + "\n"
		res, err := Classify([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if res.Class != want {
			t.Errorf("%d words: %s, want %s", len(strings.Fields(text)), res.Class, want)
		}
	}
}

// Rejections at send time follow the bounce rules: the code decides, the
// text refines.
func TestRejection(t *testing.T) {
	for _, tc := range []struct {
		code           int
		enhanced, text string
		kind           BounceKind
		reason         string
	}{
		{550, "5.1.1", "The email account that you tried to reach does not exist.", Hard, "mailbox_not_found"},
		{550, "", "Recipient address rejected: User unknown in virtual mailbox table", Hard, "mailbox_not_found"},
		{554, "5.1.10", "Recipient address rejected: domain has a null MX", Hard, "null_mx"},
		{552, "5.2.2", "Mailbox full", Soft, "mailbox_full"},
		{451, "4.3.0", "Temporary local problem", Soft, "temporary"},
		{421, "4.7.28", "Our system has detected an unusual rate of unsolicited mail originating from your IP address.", Sender, "reputation"},
		{550, "5.7.26", "Unauthenticated email from sender.test is not accepted due to domain's DMARC policy.", Sender, "authentication"},
		{550, "5.7.515", "Access denied, sending domain does not meet the required authentication level.", Sender, "authentication"},
		{554, "5.7.1", "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", Sender, "blocklist"},
		{550, "5.7.1", "Recipient address rejected: user does not exist", Hard, "mailbox_not_found"},
	} {
		r := Rejection(tc.code, tc.enhanced, tc.text)
		if r.Kind != tc.kind || r.Reason != tc.reason {
			t.Errorf("%d %s %s: %s/%s, want %s/%s", tc.code, tc.enhanced, tc.text, r.Kind, r.Reason, tc.kind, tc.reason)
		}
	}
}
