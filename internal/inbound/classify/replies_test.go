package classify

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/touchline/touchline/internal/smtpreply"
)

// TestRejectionRealReplies classifies the shared corpus of real SMTP
// replies (verifier/testdata/replies.tsv, the table the verifier's probe
// classifier is tested on) as send-time rejections: a reply the verifier
// calls undeliverable must be a hard bounce here, one it calls blocked a
// sender bounce, and one it calls full, greylisted or temporary soft (or
// sender, for a temporary refusal of the sender), so that probe time and
// send time agree.
func TestRejectionRealReplies(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../../verifier/testdata/replies.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n")[1:] {
		f := strings.Split(line, "\t")
		if f[1] != "rcpt" {
			continue
		}
		code, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatalf("line %d: code %q", i+2, f[2])
		}
		r := smtpreply.Parse(f[2] + " " + strings.ReplaceAll(f[3], `\n`, "\n"))
		got := Rejection(code, r.Enhanced.String(), r.Text)
		var ok bool
		switch f[4] + "/" + f[5] {
		case "deliverable/accepted":
			continue
		case "undeliverable/mailbox_not_found", "undeliverable/mailbox_disabled", "undeliverable/syntax":
			// A bare 550 at send time is not known to answer RCPT, so
			// it may stay soft; everything with words or codes is hard.
			ok = got.Kind == Hard || got.Reason == "unknown" && code == 550
		case "risky/mailbox_full":
			ok = got.Kind == Soft && got.Reason == "mailbox_full"
		case "unknown/blocked":
			ok = got.Kind == Sender
		case "unknown/greylisted", "unknown/temporary_failure":
			ok = got.Kind == Soft || got.Kind == Sender
		default:
			t.Fatalf("line %d: no mapping for %s/%s", i+2, f[4], f[5])
		}
		if !ok {
			t.Errorf("line %d %s: %s: %s/%s, verifier says %s/%s", i+2, f[0], got.Diagnostic, got.Kind, got.Reason, f[4], f[5])
		}
	}
}
