package inbound

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzSMTPSession: whatever a client on the Internet sends to the inbound
// server (commands, DATA, pipelining, junk), the server answers and stays
// up, and hands over only messages for its own domains.
func FuzzSMTPSession(f *testing.F) {
	for _, s := range []string{
		"EHLO mx.example.com\r\nMAIL FROM:<>\r\nRCPT TO:<b-abc@bounces.example.com>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n",
		"HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@elsewhere.test>\r\nRCPT TO:<r@Bounces.Example.com>\r\nDATA\r\n..\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@b> SIZE=99999999999999999999\r\nRCPT TO:<@bounces.example.com>\r\n",
		"EHLO x\r\nMAIL FROM:<a@b> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<ü@bounces.example.com> NOTIFY=NEVER\r\nBDAT 5 LAST\r\nhello",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "STARTTLS\r\nAUTH PLAIN AGFAYg==\r\nRSET\r\nVRFY x\r\nNOOP\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@bounces.example.com>\r\nDATA\r\n" + strings.Repeat("a", 2000) + "\r\n.\r\n",
	} {
		f.Add([]byte(s))
	}
	var (
		mu   sync.Mutex
		got  []Message
		done = make(chan error, 1)
	)
	h := HandlerFunc(func(_ context.Context, m Message) error {
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		return nil
	})
	srv := NewSMTPServer(SMTPConfig{Domains: []string{"bounces.example.com"}, Hostname: "mx.touchline.test", MaxMessageBytes: 64 << 10,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, MaxConnsPerIP: 1000, Logger: slog.New(slog.DiscardHandler)}, h)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go func() { done <- srv.Serve(l) }()
	f.Cleanup(func() { srv.Close(); <-done })
	addr := l.Addr().String()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("the server stopped accepting: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			c.Write(data)
			c.(*net.TCPConn).CloseWrite()
		}()
		out, err := io.ReadAll(c)
		if err != nil && !isReset(err) {
			t.Fatalf("reading the server's answers: %v (got %q)", err, out)
		}
		if !strings.HasPrefix(string(out), "220 ") && !strings.HasPrefix(string(out), "421 ") {
			t.Fatalf("no greeting: %q", out)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, m := range got {
			for _, rcpt := range m.To {
				if !strings.HasSuffix(strings.ToLower(rcpt), "@bounces.example.com") {
					t.Fatalf("a message for %q was accepted", rcpt)
				}
			}
		}
		got = got[:0]
	})
}

// isReset: the server may close while the client still writes (after 421,
// or a line too long), and the kernel then resets the connection.
func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}
