package verifier

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReadReply: whatever a remote MX sends, the reply reader returns a
// reply with a code from 200 to 599 and at most maxReplyLines lines, or an
// error; never a panic.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"250 OK\r\n",
		"250-mx.google.com at your service\r\n250-SIZE 157286400\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
		"550-5.1.1 The email account that you tried to reach does not exist.\r\n550-5.1.1 Please try\r\n550 5.1.1 https://support.google.com/mail/?p=NoSuchUser\r\n",
		"550 5.7.515 Access denied, sending domain does not meet the required authentication level.\r\n",
		"451 4.7.1 Greylisted, see http://postgrey.schweikert.ch/\r\n",
		"250", "25", "250-a\r\n251 b\r\n", "250-a\r\n", "999 x\r\n", "2500 x\r\n", "250\tx\r\n", "550 5.1.1\r\n", "550 6.1.1 x\r\n",
		"HTTP/1.1 400 Bad Request\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &session{br: bufio.NewReaderSize(bytes.NewReader(data), maxReplyLine)}
		for range 4 {
			r, err := s.readReply()
			if err != nil {
				if !errors.Is(err, errProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if r.Code < 200 || r.Code > 599 {
				t.Fatalf("code %d from %q", r.Code, data)
			}
			if n := strings.Count(r.Text, "\n") + 1; n > maxReplyLines {
				t.Fatalf("%d lines", n)
			}
			if r.Enhanced != "" && int(r.Enhanced[0]-'0') != r.Code/100 {
				t.Fatalf("enhanced %q with code %d", r.Enhanced, r.Code)
			}
		}
	})
}
