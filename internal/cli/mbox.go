package cli

import (
	"bufio"
	"bytes"
	"io"
	"regexp"
)

// messageReader yields the raw messages of one input: the whole input
// when it is a single message, or each message of an mbox.
//
// An input is an mbox when its first line starts with "From " (RFC 4155),
// which no RFC 5322 header field can (a field name ends at the colon).
// A message ends where the next "From " line begins, when that line
// follows an empty line (RFC 4155 §2: each message is terminated by an
// empty line) and carries a date with a time of day, as every
// "From sender asctime" line does; an unquoted "From here on..." in a
// body (mboxo writers quote only some) then stays in its message.
// The separator's empty line is not part of the message. Lines quoted by
// the writer (">From ", ">>From " in mboxrd) lose one ">".
type messageReader struct {
	br   *bufio.Reader
	mbox bool
	line int // lines read so far
	sep  int // line of the separator that starts the next message
	done bool
}

// fromLine matches an mbox separator: "From " an address, then a date
// whose time of day is HH:MM[:SS] ("From MAILER-DAEMON Mon Mar  2 10:00:00 2026").
var fromLine = regexp.MustCompile(`^From \S+ +.*\b\d{1,2}:\d{2}`)

func newMessageReader(r io.Reader) *messageReader {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(5)
	return &messageReader{br: br, mbox: string(head) == "From "}
}

// Next returns the next message and the line of the input it starts on
// (for an mbox, its "From " line, which is not part of the message);
// io.EOF after the last.
func (m *messageReader) Next() (raw []byte, line int, err error) {
	if m.done {
		return nil, 0, io.EOF
	}
	if !m.mbox {
		m.done = true
		raw, err := io.ReadAll(m.br)
		if err != nil {
			return nil, 0, err
		}
		return raw, 1, nil
	}
	if m.sep == 0 {
		// The input's first line is the first separator.
		if _, err := m.br.ReadBytes('\n'); err != nil && err != io.EOF {
			return nil, 0, err
		}
		m.line++
		m.sep = m.line
	}
	start := m.sep
	var buf bytes.Buffer
	prevBlank := false
	for {
		l, err := m.br.ReadBytes('\n')
		if len(l) > 0 {
			m.line++
			if prevBlank && fromLine.Match(l) {
				m.sep = m.line
				return trimSeparator(buf.Bytes()), start, nil
			}
			buf.Write(unquoteFrom(l))
			prevBlank = isBlank(l)
		}
		if err == io.EOF {
			m.done = true
			return trimSeparator(buf.Bytes()), start, nil
		}
		if err != nil {
			return nil, 0, err
		}
	}
}

// trimSeparator drops a message's final empty line, which belongs to the
// mbox (RFC 4155 §2), not to the message.
func trimSeparator(b []byte) []byte {
	switch {
	case bytes.HasSuffix(b, []byte("\r\n\r\n")):
		return b[:len(b)-2]
	case bytes.HasSuffix(b, []byte("\n\n")):
		return b[:len(b)-1]
	}
	return b
}

func isBlank(l []byte) bool {
	return len(bytes.TrimRight(l, "\r\n")) == 0
}

// unquoteFrom undoes mboxrd quoting: ">From " becomes "From ", ">>From "
// becomes ">From ".
func unquoteFrom(l []byte) []byte {
	i := 0
	for i < len(l) && l[i] == '>' {
		i++
	}
	if i > 0 && bytes.HasPrefix(l[i:], []byte("From ")) {
		return l[1:]
	}
	return l
}
