package classify

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	origID  = "<3f2kq7d5xv6hm4ncb2ytz5w4ja@mail.acme-sales.example>"
	firstID = "<a1b2c3d4e5f6g7h8i9j0k1l2m3@mail.acme-sales.example>"
)

type rcpt struct {
	addr, status string
	kind         BounceKind
}

type want struct {
	class  Class
	rule   string // exact when it has no trailing '*', else a prefix
	rcpts  []rcpt
	ret    string // ReturnDate as 2006-01-02, "" for nil
	origID string // OriginalMessageID when not ""
	fbType string
	// Snippet must contain has and none of hasNot.
	has    string
	hasNot []string
}

// cases maps every file under testdata/ to what Classify must say.
var cases = map[string]want{
	// RFC 3464 reports.
	"dsn-rfc3464-postfix-hard-5.1.1.eml":             {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"jane.doe@example.com", "5.1.1", Hard}}, origID: origID},
	"dsn-rfc3464-delayed-4.4.7.eml":                  {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"max.mueller@example.de", "4.4.1", Soft}}, origID: origID},
	"dsn-rfc3464-expired-4.4.7-failed.eml":           {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"ops@example.org", "4.4.7", Soft}}},
	"dsn-rfc3464-mailbox-full-5.2.2.eml":             {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"li.wei@example.net", "5.2.2", Soft}}},
	"dsn-rfc3464-gmail-dmarc-5.7.26.eml":             {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"priya@example.com", "5.7.26", Sender}}, origID: origID},
	"dsn-rfc3464-microsoft-5.7.515.eml":              {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"tom.becker@example.org", "5.7.515", Sender}}},
	"dsn-rfc3464-spamhaus-5.7.1.eml":                 {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"anna@example.net", "5.7.1", Sender}}},
	"dsn-rfc3464-gmail-4.7.28-failed.eml":            {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"omar@example.com", "4.7.28", Sender}}},
	"dsn-rfc3464-null-mx-5.1.10.eml":                 {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"info@parked.example", "5.1.10", Hard}}},
	"dsn-rfc3464-moved-5.1.6.eml":                    {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"r.klein@example.de", "5.1.6", Hard}}},
	"dsn-rfc3464-status-5.0.0-diagnostic-5.1.10.eml": {class: ClassBounce, rule: "dsn:rfc3464", rcpts: []rcpt{{"carla@example.org", "5.1.10", Hard}}},
	"dsn-rfc3464-relayed-success.eml":                {class: ClassUnknown, rule: "dsn:success"},
	"dsn-rfc3464-multi-recipient-mixed-crlf.eml": {class: ClassBounce, rule: "dsn:rfc3464", origID: origID, rcpts: []rcpt{
		{"ceo@example.com", "5.1.1", Hard}, {"sales@example.com", "4.2.2", Soft}, {"cfo@example.com", "5.7.1", Sender}}},

	// Bounces without a report.
	"ndr-exchange-online-5.1.10-no-report.eml": {class: ClassBounce, rule: "dsn:exchange-ndr", rcpts: []rcpt{{"paul.martin@example.org", "5.1.10", Hard}}, origID: origID},
	"ndr-exchange-2010-5.1.1-text.eml":         {class: ClassBounce, rule: "dsn:exchange-ndr", rcpts: []rcpt{{"hans.vogel@example.com", "5.1.1", Hard}}, origID: origID},
	"bounce-gmail-text-address-not-found.eml":  {class: ClassBounce, rule: "dsn:gmail", rcpts: []rcpt{{"kim.lee@example.com", "5.1.1", Hard}}, origID: origID},
	"bounce-gmail-text-delay.eml":              {class: ClassBounce, rule: "dsn:gmail", rcpts: []rcpt{{"lena@example.net", "4.3.0", Soft}}, origID: origID},
	"bounce-postfix-text-user-unknown.eml":     {class: ClassBounce, rule: "dsn:postfix", rcpts: []rcpt{{"s.fischer@example.de", "5.1.1", Hard}}, origID: origID},
	"bounce-exim-text-two-recipients.eml":      {class: ClassBounce, rule: "dsn:exim", rcpts: []rcpt{{"joe@example.net", "5.1.1", Hard}, {"mary@example.net", "5.2.2", Soft}}, origID: origID},
	"bounce-qmail-failure-notice.eml":          {class: ClassBounce, rule: "dsn:qmail", rcpts: []rcpt{{"nobody@example.org", "5.1.1", Hard}, {"buyer@example.net", "5.7.1", Sender}}, origID: origID},
	"bounce-mailer-daemon-unparsed.eml":        {class: ClassUnknown, rule: "dsn:unparsed"},

	// Complaints.
	"arf-yahoo-abuse.eml":             {class: ClassComplaint, rule: "arf", fbType: "abuse", origID: origID, rcpts: []rcpt{{addr: "kate.nguyen@example.com"}}},
	"arf-aol-abuse-redacted-crlf.eml": {class: ClassComplaint, rule: "arf", fbType: "abuse", origID: "<7hx3c2mq5ewpzk4b6ny7ra2tde@mail.acme-sales.example>"},

	// Auto-replies.
	"ooo-en-outlook-automatic-reply-until-12-05.eml":         {class: ClassAutoReply, rule: "auto:subject-en", ret: "2025-12-05", origID: origID, has: "out of the office"},
	"ooo-en-gmail-vacation-back-on-monday-3-march.eml":       {class: ClassAutoReply, rule: "auto:auto-submitted", ret: "2025-03-03"},
	"ooo-en-apple-vacation-back-tomorrow.eml":                {class: ClassAutoReply, rule: "auto:x-apple-action", ret: "2026-03-06"},
	"ooo-en-x-autoreply-iso-date.eml":                        {class: ClassAutoReply, rule: "auto:x-autoreply", ret: "2026-06-15"},
	"ooo-en-x-autorespond-no-date.eml":                       {class: ClassAutoReply, rule: "auto:x-autorespond"},
	"ooo-de-abwesenheitsnotiz-iso-8859-1-zurueck-am.eml":     {class: ClassAutoReply, rule: "auto:subject-de", ret: "2026-03-03", has: "für Ihre Nachricht"},
	"ooo-de-automatische-antwort-auto-submitted-no-date.eml": {class: ClassAutoReply, rule: "auto:auto-submitted"},
	"ooo-fr-reponse-automatique-de-retour-le-3-mars.eml":     {class: ClassAutoReply, rule: "auto:subject-fr", ret: "2026-03-03"},
	"ooo-es-respuesta-automatica-hasta-el-9-de-marzo.eml":    {class: ClassAutoReply, rule: "auto:subject-es", ret: "2026-03-09"},
	"ooo-pt-resposta-automatica-retorno-16-03-2026.eml":      {class: ClassAutoReply, rule: "auto:subject-pt", ret: "2026-03-16"},
	"ooo-nl-afwezig-tot-en-met-vanaf-weer.eml":               {class: ClassAutoReply, rule: "auto:subject-nl", ret: "2026-03-09"},
	"ooo-it-risposta-automatica-fino-al-20-marzo.eml":        {class: ClassAutoReply, rule: "auto:subject-it", ret: "2026-03-20"},
	"ooo-sv-franvaro-tillbaka-den-10-mars.eml":               {class: ClassAutoReply, rule: "auto:subject-sv", ret: "2026-03-10"},
	"ooo-no-autosvar-tilbake-2-mars.eml":                     {class: ClassAutoReply, rule: "auto:subject-nordic", ret: "2026-03-02"},
	"ooo-fi-poissa-palaan-9-3-2026.eml":                      {class: ClassAutoReply, rule: "auto:subject-fi", ret: "2026-03-09"},
	"newsletter-precedence-bulk.eml":                         {class: ClassAutoReply, rule: "auto:precedence"},

	// Unsubscribe requests.
	"unsub-en-short-please-unsubscribe.eml": {class: ClassUnsubscribe, rule: "unsub:body", origID: origID, has: "Please unsubscribe me."},
	"unsub-en-not-interested-remove-me.eml": {class: ClassUnsubscribe, rule: "unsub:body", hasNot: []string{"Sam Seller"}},
	"unsub-de-bitte-abmelden.eml":           {class: ClassUnsubscribe, rule: "unsub:body", has: "Bitte abmelden."},
	"unsub-fr-desabonner-iso-8859-1-qp.eml": {class: ClassUnsubscribe, rule: "unsub:body", has: "désabonner"},
	"unsub-es-darme-de-baja.eml":            {class: ClassUnsubscribe, rule: "unsub:body"},
	"unsub-subject-only-mailto.eml":         {class: ClassUnsubscribe, rule: "unsub:subject"},

	// Human replies.
	"human-long-reply-mentions-unsubscribe.eml":       {class: ClassHumanReply, rule: "human", has: "Thanks for reaching out", hasNot: []string{"wrote:"}},
	"human-unsubscribe-only-in-quoted-text.eml":       {class: ClassHumanReply, rule: "human", has: "let's talk Thursday at 3pm.", hasNot: []string{"unsubscribe", "wrote"}},
	"human-gmail-wrapped-attribution.eml":             {class: ClassHumanReply, rule: "human", has: "happy to chat", hasNot: []string{"On Mon", "wrote", "sam@acme"}},
	"human-outlook-from-sent-separator.eml":           {class: ClassHumanReply, rule: "human", has: "homegrown tool", hasNot: []string{"From:", "Sent:", "unsubscribe"}},
	"human-outlook-x-auto-response-suppress-only.eml": {class: ClassHumanReply, rule: "human", has: "ask me again in Q3", hasNot: []string{"Original Message"}},
	"human-html-only-gmail-quote.eml":                 {class: ClassHumanReply, rule: "human", has: "Let's do it – does Tuesday at 2pm work?", hasNot: []string{"wrote", "unsubscribe", "<div"}},
	"human-html-only-outlook-divrplyfwdmsg.eml":       {class: ClassHumanReply, rule: "human", has: "Please call me on Friday & bring numbers.", hasNot: []string{"From:", "unsubscribe", "margin-top"}},
	"human-iso-8859-1-quoted-printable-german.eml":    {class: ClassHumanReply, rule: "human", has: "gerne können wir nächste Woche telefonieren", hasNot: []string{"Ursprüngliche", "Gesendet"}},
	"human-multipart-alternative-signature.eml":       {class: ClassHumanReply, rule: "human", has: "Interested! Who else uses it in our space?", hasNot: []string{"Head of Ops", "wrote"}},
	"mdn-read-receipt.eml":                            {class: ClassUnknown, rule: "report:disposition-notification"},
}

func TestClassifyTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("%d fixtures, want at least 40", len(files))
	}
	seen := map[string]bool{}
	for _, path := range files {
		name := filepath.Base(path)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w, ok := cases[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			check(t, raw, w)
			// Both line endings must give the same answer.
			if bytes.Contains(raw, []byte("\r\n")) {
				check(t, bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), w)
			} else {
				check(t, bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n")), w)
			}
		})
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("expectation for missing file %s", name)
		}
	}
}

func check(t *testing.T, raw []byte, w want) {
	t.Helper()
	res, err := Classify(raw)
	if err != nil {
		t.Fatalf("Classify: %v", err)
	}
	if res.Class != w.class {
		t.Errorf("Class = %q, want %q (rule %q)", res.Class, w.class, res.Rule)
	}
	if p, ok := strings.CutSuffix(w.rule, "*"); ok && !strings.HasPrefix(res.Rule, p) || !ok && res.Rule != w.rule {
		t.Errorf("Rule = %q, want %q", res.Rule, w.rule)
	}
	if len(res.Recipients) != len(w.rcpts) {
		t.Errorf("Recipients = %+v, want %d", res.Recipients, len(w.rcpts))
	} else {
		for i, r := range w.rcpts {
			got := res.Recipients[i]
			if got.Address != r.addr || got.Status != r.status || got.Kind != r.kind {
				t.Errorf("Recipient %d = %s %s %s (%s; %q), want %s %s %s", i, got.Address, got.Status, got.Kind, got.Reason, got.Diagnostic, r.addr, r.status, r.kind)
			}
		}
	}
	gotRet := ""
	if res.ReturnDate != nil {
		gotRet = res.ReturnDate.Format("2006-01-02")
	}
	if gotRet != w.ret {
		t.Errorf("ReturnDate = %q, want %q", gotRet, w.ret)
	}
	if w.origID != "" && res.OriginalMessageID != w.origID {
		t.Errorf("OriginalMessageID = %q, want %q", res.OriginalMessageID, w.origID)
	}
	if res.FeedbackType != w.fbType {
		t.Errorf("FeedbackType = %q, want %q", res.FeedbackType, w.fbType)
	}
	if !strings.Contains(res.Snippet, w.has) {
		t.Errorf("Snippet = %q, want it to contain %q", res.Snippet, w.has)
	}
	for _, s := range w.hasNot {
		if strings.Contains(res.Snippet, s) {
			t.Errorf("Snippet = %q, must not contain %q", res.Snippet, s)
		}
	}
}

func TestReferences(t *testing.T) {
	raw, err := os.ReadFile("testdata/human-multipart-alternative-signature.eml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Classify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.References, " "); got != origID+" "+firstID {
		t.Errorf("References = %q", got)
	}
	if res.OriginalMessageID != origID {
		t.Errorf("OriginalMessageID = %q", res.OriginalMessageID)
	}
}

func TestNotAMessage(t *testing.T) {
	for _, in := range []string{"", "\n\nbody only", "hello world\nthis is not mail\n", "<html><body>x</body></html>"} {
		if _, err := Classify([]byte(in)); !errors.Is(err, ErrNotMessage) {
			t.Errorf("Classify(%q) error = %v, want ErrNotMessage", in, err)
		}
	}
}

func FuzzClassify(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, pat := range []string{"testdata/corpora/*/*.txt", "testdata/corpora/*/*.msg", "testdata/families/*.eml"} {
		more, _ := filepath.Glob(pat)
		files = append(files, more...)
	}
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Subject: x\n\n"))
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nAction: failed\n--b--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := Classify(raw)
		if err != nil {
			return
		}
		if res.Class == "" || res.Rule == "" {
			t.Fatalf("empty verdict %+v", res)
		}
		for _, r := range res.Recipients {
			if res.Class == ClassBounce && r.Address != "" && !isAddress(r.Address) {
				t.Fatalf("recipient %q is not an address", r.Address)
			}
		}
	})
}
