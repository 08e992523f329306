package smtpreply

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// RealReply is one line of the shared corpus of real SMTP replies
// (verifier/testdata/replies.tsv: Gmail, Microsoft 365, Yahoo, iCloud,
// Postfix, Exim, Sendmail, qmail, Mimecast, Proofpoint, ...; sources in its
// last column). The verifier's probe classifier, this package and the
// inbound classifier's send-time rejections are all tested on it.
type RealReply struct {
	Line                   int
	Provider, Stage        string
	Reply                  Reply
	WantStatus, WantReason string // the verifier's verdict for it
}

// ReadCorpus reads the shared reply corpus from path.
func ReadCorpus(t testing.TB, path string) []RealReply {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []RealReply
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n")[1:] {
		f := strings.Split(line, "\t")
		if len(f) < 6 {
			t.Fatalf("%s line %d: %d fields", path, i+2, len(f))
		}
		code, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatalf("%s line %d: code %q", path, i+2, f[2])
		}
		r := Parse(f[2] + " " + strings.ReplaceAll(f[3], `\n`, "\n"))
		if r.Code != code {
			t.Fatalf("%s line %d: Parse gave code %d, want %d", path, i+2, r.Code, code)
		}
		if f[1] == "rcpt" {
			r.Stage = StageRcpt
		} else {
			r.Stage = StageSession
		}
		out = append(out, RealReply{Line: i + 2, Provider: f[0], Stage: f[1], Reply: r, WantStatus: f[4], WantReason: f[5]})
	}
	return out
}

// TestRealReplies holds Read to the meaning each real reply has: what the
// verifier concludes from it at RCPT time is the cause's family here.
func TestRealReplies(t *testing.T) {
	t.Parallel()
	for _, rr := range ReadCorpus(t, "../../verifier/testdata/replies.tsv") {
		if rr.Stage != "rcpt" {
			continue
		}
		c := Read(rr.Reply)
		var ok bool
		switch rr.WantStatus + "/" + rr.WantReason {
		case "deliverable/accepted":
			ok = c == Accepted
		case "undeliverable/mailbox_not_found":
			ok = c == MailboxNotFound || c == HostNotFound || c == NullMX || c == Moved
		case "undeliverable/mailbox_disabled":
			ok = c == MailboxDisabled
		case "undeliverable/syntax":
			ok = c == BadSyntax
		case "risky/mailbox_full":
			ok = c == MailboxFull
		case "unknown/blocked":
			ok = c.AboutSender()
		case "unknown/greylisted":
			ok = c == Greylisted
		case "unknown/temporary_failure":
			ok = !c.AboutAddress() && c != MailboxFull && rr.Reply.Code < 500
		default:
			t.Fatalf("line %d: no mapping for %s/%s", rr.Line, rr.WantStatus, rr.WantReason)
		}
		if !ok {
			t.Errorf("line %d %s: %d %s %q: cause %s, verifier wants %s/%s", rr.Line, rr.Provider, rr.Reply.Code, rr.Reply.Enhanced, rr.Reply.Text, c, rr.WantStatus, rr.WantReason)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		code int
		enh  string
		text string
	}{
		{"550 5.1.1 User unknown", 550, "5.1.1", "User unknown"},
		{"550-5.7.26 Unauthenticated", 550, "5.7.26", "Unauthenticated"},
		{"550 #5.1.0 Address rejected", 550, "5.1.0", "#5.1.0 Address rejected"},
		{"5.2.2 mailbox full", 0, "5.2.2", "mailbox full"},
		{"421 4.7.0 Try again later", 421, "4.7.0", "Try again later"},
		{"550 4.2.2 over quota", 550, "", "4.2.2 over quota"}, // class disagrees: not this reply's code
		{"250 ok 1.2.3.4", 250, "", "ok 1.2.3.4"},
		{"", 0, "", ""},
	} {
		r := Parse(tc.in)
		if r.Code != tc.code || r.Enhanced.String() != tc.enh || r.Text != tc.text {
			t.Errorf("Parse(%q) = %d %q %q, want %d %q %q", tc.in, r.Code, r.Enhanced, r.Text, tc.code, tc.enh, tc.text)
		}
	}
}

// TestCodesAndWords pins the rules where codes and words disagree
// (issue 11) and the RFC 3463/7505 readings.
func TestCodesAndWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Cause
	}{
		// The words are about the sender's IP, not the mailbox.
		{"550 5.1.1 Your IP has sent to too many recipients this hour", RateLimited},
		// The bracketed address is the sender's.
		{"550 5.1.0 <sender@example.org> sender rejected", SenderAddress},
		// Gmail's "does not exist" outweighs the other words in its text.
		{"550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser [mx.google.com policy]", MailboxNotFound},
		// RFC 7505: a recipient domain with a null MX.
		{"550 5.1.10 Recipient address has null MX", NullMX},
		{"550 5.7.27 Host does not accept mail", NullMX},
		{"550 5.7.27 Sender address has null MX", SenderAddress},
		// DNS trouble is not a dead domain.
		{"550 5.4.4 Name service error for name=example.org type=MX: Malformed or unexpected name server reply", DNSFailure},
		{"550 5.1.2 Host not found, try again", DNSFailure},
		{"550 5.4.4 Host or domain name not found. Name service error for name=example.invalid type=A: Host not found", HostNotFound},
		// Codes decide when the text says nothing.
		{"550 5.1.1 Rejected", MailboxNotFound},
		{"552 5.2.2 Rejected", MailboxFull},
		{"550 5.7.1 No such user", MailboxNotFound},
		{"550 5.7.1 Blocked by SpamCop", Blocklist},
		{"554 5.3.4 Message too big for system", MessageRejected},
		{"550 5.4.7 Delivery expired", Expired},
		// "DNS Error" names no cause; "Domain name not found" beside it does.
		{"550 5.0.0 DNS Error: Domain name not found", HostNotFound},
		{"550 5.0.0 DNS Error: Could not contact DNS servers", DNSFailure},
		// "Message expired" is the sending MTA giving up, not an expired account.
		{"550 5.0.0 Message expired", Expired},
		{"550 5.0.0 Your account has expired", MailboxDisabled},
		// "The number of messages in recipient's mailbox exceeded the local
		// limit" is a full mailbox, not a rate limit.
		{"550 5.0.0 The number of messages in recipient's mailbox exceeded the local limit", MailboxFull},
		{"550 5.0.0 Illegal host/domain name found", HostNotFound},
		// Unknown user and full mailbox in the languages bounces are written in.
		{"550 utilisateur inconnu", MailboxNotFound},
		{"550 usuário desconhecido, a conta não existe", MailboxNotFound},
		{"550 onbekende gebruiker", MailboxNotFound},
		{"550 пользователь не найден", MailboxNotFound},
		{"550 收件人不存在", MailboxNotFound},
		{"550 el buzón del destinatario está lleno", MailboxFull},
		{"550 casella piena", MailboxFull},
		// "mailbox unavailable" is RFC 5321's generic 550 text: other
		// named causes outweigh it.
		{"550 Requested action not taken: mailbox unavailable (quota exceeded)", MailboxFull},
		{"550 Requested action not taken: mailbox unavailable", MailboxNotFound},
		{"552 5.2.3 Message exceeds maximum size", MessageRejected},
		{"550 Requested action not taken", Unexplained}, // no stage: nothing about the address
		{"250 2.1.5 Ok", Accepted},
		{"451 4.7.1 Try again later", Greylisted},
		{"999 what", Protocol},
	} {
		if got := Read(Parse(tc.in)); got != tc.want {
			t.Errorf("Read(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	// At RCPT, a bare 550 is a mailbox rejection (RFC 5321 §4.2.2).
	r := Parse("550 Requested action not taken")
	r.Stage = StageRcpt
	if got := Read(r); got != MailboxNotFound {
		t.Errorf("550 at RCPT = %s, want %s", got, MailboxNotFound)
	}
}

func FuzzRead(f *testing.F) {
	for _, s := range []string{"550 5.1.1 User unknown", "421-4.7.28 rate", "5.2.2 (4.4.7) #5.1.0", "550 \xff\xfe", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Parse(s)
		c := Read(r)
		if c.AboutAddress() && c.AboutSender() {
			t.Fatalf("%q: cause %s is both about the address and the sender", s, c)
		}
		if r.Enhanced.Valid() && r.Code != 0 && r.Enhanced.Class != r.Code/100 {
			t.Fatalf("%q: enhanced %s disagrees with code %d", s, r.Enhanced, r.Code)
		}
	})
}
