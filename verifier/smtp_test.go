package verifier

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func readOne(wire string) (Reply, error) {
	s := &session{br: bufio.NewReaderSize(strings.NewReader(wire), maxReplyLine)}
	return s.readReply()
}

func TestReadReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		wire string
		want Reply
	}{
		{"250 2.1.5 Ok\r\n", Reply{250, "2.1.5", "Ok"}},
		{"250 OK\r\n", Reply{250, "", "OK"}},
		{"220 mx.example.com ESMTP\n", Reply{220, "", "mx.example.com ESMTP"}},
		// Gmail repeats the enhanced code on every line (RFC 2034 §4).
		{"550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n" +
			"550-5.1.1 double-checking the recipient's email address for typos or\r\n" +
			"550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser\r\n",
			Reply{550, "5.1.1", "The email account that you tried to reach does not exist. Please try\n" +
				"double-checking the recipient's email address for typos or\n" +
				"unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser"}},
		{"250-mx.example.com\r\n250-PIPELINING\r\n250 STARTTLS\r\n", Reply{250, "", "mx.example.com\nPIPELINING\nSTARTTLS"}},
		// A class that disagrees with the code is not an enhanced code.
		{"550 4.1.1 odd\r\n", Reply{550, "", "4.1.1 odd"}},
		{"250\r\n", Reply{250, "", ""}},
	} {
		got, err := readOne(tc.wire)
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.wire, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"hello\r\n", "99 x\r\n", "250-a\r\n251 b\r\n", "250*x\r\n",
		"250 " + strings.Repeat("x", maxReplyLine) + "\r\n",
		strings.Repeat("250-x\r\n", maxReplyLines+1),
	} {
		if _, err := readOne(bad); !errors.Is(err, errProtocol) {
			t.Errorf("%.40q: err %v, want a protocol error", bad, err)
		}
	}
	if _, err := readOne(""); err == nil {
		t.Error("empty input: no error")
	}
}

func TestParseExtensions(t *testing.T) {
	t.Parallel()
	ext := parseExtensions("mx.example.com Hello\nPIPELINING\nsize 1000\nSTARTTLS\nSMTPUTF8")
	for _, k := range []string{"PIPELINING", "SIZE", "STARTTLS", "SMTPUTF8"} {
		if _, ok := ext[k]; !ok {
			t.Errorf("%s missing from %v", k, ext)
		}
	}
	if _, ok := ext["MX.EXAMPLE.COM"]; ok {
		t.Error("greeting line taken as an extension")
	}
}
