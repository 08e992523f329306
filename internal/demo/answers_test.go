package demo

import (
	"encoding/csv"
	"os"
	"testing"

	"github.com/touchline/touchline/internal/mailsim"
)

// The demo's deliverable leads answer in the proportions the demo promises:
// about one in eight replies, a few out of office, a rare unsubscribe or
// complaint; and a follow-up (In-Reply-To) is never answered.
func TestAnswersMix(t *testing.T) {
	f, err := os.Open("../../examples/prospects.answers.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	n, kinds := 0, map[mailsim.AnswerKind]int{}
	for _, row := range rows[1:] {
		if row[2] != "deliverable" {
			continue
		}
		n++
		a, ok := Answers(mailsim.Message{To: []string{row[1]}, Data: []byte("Subject: x\r\n\r\nx\r\n")})
		if !ok {
			continue
		}
		kinds[a.Kind]++
		if a.After < 3e9 || a.After > 41e9 {
			t.Errorf("%s answers after %s: not within a minute", row[1], a.After)
		}
		if _, again := Answers(mailsim.Message{To: []string{row[1]}, Data: []byte("Subject: Re: x\r\nIn-Reply-To: <x@y>\r\n\r\nx\r\n")}); again {
			t.Errorf("%s answers a follow-up", row[1])
		}
	}
	replies := kinds[mailsim.HumanReply] + kinds[mailsim.ColleagueReply]
	t.Logf("%d deliverable leads: %v", n, kinds)
	if replies < n/12 || replies > n/5 || kinds[mailsim.AutoReply] == 0 || kinds[mailsim.UnsubscribeMe] > n/15 || kinds[mailsim.SpamComplaint] > n/30+1 {
		t.Errorf("answer mix %v of %d leads", kinds, n)
	}
}
