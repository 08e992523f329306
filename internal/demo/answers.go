package demo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"net/mail"
	"strings"
	"time"

	"github.com/touchline/touchline/internal/mailsim"
)

// Answers is the demo recipients' script: how each lead answers the
// cadence's first email, fixed by its address so every run tells the same
// story. About one lead in eight replies (a third of those forwarded to
// the tracking address rather than into the rep's mailbox), some through a
// colleague; others are out of office, ask to be removed, complain, or
// have a full mailbox. Answers come 3 to 40 seconds after the email, so
// replies promote leads to prospects on the dashboard within a minute of
// `make run`.
func Answers(m mailsim.Message) (mailsim.Answer, bool) {
	if len(m.To) != 1 {
		return mailsim.Answer{}, false
	}
	if pm, err := mail.ReadMessage(bytes.NewReader(m.Data)); err != nil || pm.Header.Get("In-Reply-To") != "" {
		return mailsim.Answer{}, false // only the first email of a thread is answered
	}
	rcpt := strings.ToLower(m.To[0])
	sum := sha256.Sum256([]byte(rcpt))
	n := binary.BigEndian.Uint32(sum[:4])
	a := mailsim.Answer{After: 3*time.Second + time.Duration(n%38)*time.Second}
	switch pick := n % 1000; {
	case pick < 90:
		a.Kind = mailsim.HumanReply
		a.ViaTracking = pick < 30
		a.Text = []string{
			"Thanks for reaching out. Yes, we are hiring two SDRs this quarter. Can we talk on Thursday at 10?",
			"Good timing: we just opened an SDR role. Send me a few slots for next week.",
			"We might be. What does it cost for a team of five?",
		}[n%3]
	case pick < 120:
		a.Kind = mailsim.ColleagueReply
		a.From = "head.of.sales@" + rcpt[strings.LastIndexByte(rcpt, '@')+1:]
	case pick < 170:
		a.Kind = mailsim.AutoReply
		a.Back = time.Now().AddDate(0, 0, 4)
	case pick < 185:
		a.Kind = mailsim.UnsubscribeMe
	case pick < 190:
		a.Kind = mailsim.SpamComplaint
	case pick < 200:
		a.Kind = mailsim.BounceSoft
	default:
		return mailsim.Answer{}, false
	}
	return a, true
}
