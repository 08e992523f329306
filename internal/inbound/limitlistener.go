package inbound

import (
	"net"
	"sync"
	"time"
)

// tooManyConns is written before closing a connection over the per-IP
// limit. RFC 5321 §3.8 lets a server answer 421 instead of its greeting.
const tooManyConns = "421 4.7.0 Too many connections from your IP\r\n"

// limitListener caps concurrent connections per remote IP. go-smtp greets
// every accepted connection at once, so the cap has to act in Accept.
type limitListener struct {
	net.Listener
	max          int
	writeTimeout time.Duration

	mu    sync.Mutex
	count map[string]int
}

func newLimitListener(l net.Listener, max int, writeTimeout time.Duration) *limitListener {
	return &limitListener{Listener: l, max: max, writeTimeout: writeTimeout, count: make(map[string]int)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		l.mu.Lock()
		over := l.count[ip] >= l.max
		if !over {
			l.count[ip]++
		}
		l.mu.Unlock()
		if !over {
			return &limitConn{Conn: c, release: func() { l.release(ip) }}, nil
		}
		// Refuse off the accept loop so a client that does not read
		// cannot stall everyone else.
		go func() {
			_ = c.SetWriteDeadline(time.Now().Add(l.writeTimeout))
			_, _ = c.Write([]byte(tooManyConns))
			_ = c.Close()
		}()
	}
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[ip]--; l.count[ip] <= 0 {
		delete(l.count, ip)
	}
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// limitConn gives its slot back on the first Close. STARTTLS wraps it in a
// tls.Conn whose Close reaches this one.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
