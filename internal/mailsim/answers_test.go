package mailsim

import (
	"testing"
	"time"

	"github.com/touchline/touchline/internal/inbound/classify"
)

var sample = Message{
	Host: "smtp.sender.test", From: "b-abc123@bounces.sender.test", To: []string{"lee@prospect.test"}, Received: time.Now(),
	Data: []byte("From: Ana Ruiz <ana@sender.test>\r\nTo: Lee <lee@prospect.test>\r\nSubject: Quick question, Lee\r\n" +
		"Message-ID: <m1@sender.test>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nHi Lee,\r\n\r\nIs Acme hiring SDRs this quarter?\r\n\r\nAna\r\n"),
}

// Every answer the simulated recipients send is read by Touchline's own
// classifier as what it is meant to be, threaded to the message it answers.
func TestAnswersClassify(t *testing.T) {
	at := time.Now()
	back := at.AddDate(0, 0, 5)
	build := map[string]func() ([]byte, error){
		"human": func() ([]byte, error) {
			return ReplyFrom(sample, "lee@prospect.test", "Lee", "Yes, call me Thursday.", at)
		},
		"colleague": func() ([]byte, error) {
			return ReplyFrom(sample, "kim@prospect.test", "Kim", "I run hiring; let's talk.", at)
		},
		"unsub": func() ([]byte, error) {
			return ReplyFrom(sample, "lee@prospect.test", "", "Please remove me from your list.", at)
		},
		"ooo": func() ([]byte, error) { return OutOfOffice(sample, "lee@prospect.test", back, at) },
		"hard": func() ([]byte, error) {
			return DeliveryStatus(sample, "mx.prospect.test", "lee@prospect.test", "failed", "5.1.1", "550 5.1.1 User unknown", at)
		},
		"soft": func() ([]byte, error) {
			return DeliveryStatus(sample, "mx.prospect.test", "lee@prospect.test", "delayed", "4.2.2", "452 4.2.2 Mailbox full", at)
		},
		"sender": func() ([]byte, error) {
			return DeliveryStatus(sample, "mx.prospect.test", "lee@prospect.test", "failed", "5.7.26", "550 5.7.26 DMARC policy", at)
		},
		"complaint": func() ([]byte, error) { return Complaint(sample, "prospect.test", "lee@prospect.test", at) },
	}
	want := map[string]struct {
		class classify.Class
		kind  classify.BounceKind
	}{
		"human": {classify.ClassHumanReply, ""}, "colleague": {classify.ClassHumanReply, ""}, "unsub": {classify.ClassUnsubscribe, ""},
		"ooo": {classify.ClassAutoReply, ""}, "hard": {classify.ClassBounce, classify.Hard}, "soft": {classify.ClassBounce, classify.Soft},
		"sender": {classify.ClassBounce, classify.Sender}, "complaint": {classify.ClassComplaint, ""},
	}
	for name, f := range build {
		raw, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res, err := classify.Classify(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w := want[name]
		if res.Class != w.class {
			t.Errorf("%s classified %s (%s), want %s", name, res.Class, res.Rule, w.class)
			continue
		}
		if w.kind != "" && (len(res.Recipients) != 1 || res.Recipients[0].Kind != w.kind || res.Recipients[0].Address != "lee@prospect.test") {
			t.Errorf("%s recipients %+v", name, res.Recipients)
		}
		if res.Class == classify.ClassAutoReply && (res.ReturnDate == nil || res.ReturnDate.Format("2006-01-02") != back.Format("2006-01-02")) {
			t.Errorf("ooo return date %v, want %s", res.ReturnDate, back.Format("2006-01-02"))
		}
		if (res.Class == classify.ClassHumanReply || res.Class == classify.ClassBounce || res.Class == classify.ClassComplaint) &&
			res.OriginalMessageID != "<m1@sender.test>" && !contains(res.References, "<m1@sender.test>") {
			t.Errorf("%s does not point at the original: %q %v", name, res.OriginalMessageID, res.References)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
