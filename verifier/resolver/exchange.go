package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size advertised in EDNS0: large enough for
// the MX and TXT sets mail needs, small enough not to fragment (RFC 6891
// §6.2.5; the value of DNS Flag Day 2020).
const ednsSize = 1232

// query asks the servers in turn, Attempts rounds, until one gives an
// answer that says something about the name: NOERROR or NXDOMAIN. On
// success it returns that message; otherwise a nil message and an answer
// holding ErrServFail, ErrTimeout or the context's error.
func (c *Client) query(ctx context.Context, fqdn string, qtype uint16) (*dns.Msg, answer) {
	var (
		failed answer // the last SERVFAIL-like answer
		noResp answer // the last timeout or network error
	)
	for range c.attempts {
		for _, server := range c.servers {
			if err := ctx.Err(); err != nil {
				return nil, answer{err: err, server: server}
			}
			resp, err := c.exchange(ctx, server, fqdn, qtype)
			if err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil {
					return nil, answer{err: ctxErr, server: server}
				}
				noResp = answer{err: ErrTimeout, server: server, detail: err.Error()}
				continue
			}
			switch resp.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				return resp, answer{server: server}
			default:
				// SERVFAIL is the resolver's failure, REFUSED its policy
				// (RFC 1035 §4.1.1); either way another server may do
				// better, as RFC 1035 §7.2 has resolvers try the next.
				failed = answer{err: ErrServFail, server: server, detail: "rcode " + dns.RcodeToString[resp.Rcode]}
			}
		}
	}
	// A server that answered, even with a failure, says more than silence.
	if failed.err != nil {
		return nil, failed
	}
	return nil, noResp
}

// exchange sends one query to one server: UDP first, TCP when the answer
// is truncated.
func (c *Client) exchange(ctx context.Context, server, fqdn string, qtype uint16) (*dns.Msg, error) {
	resp, err := c.exchangeOnce(ctx, "udp", server, newQuery(fqdn, qtype, true))
	if err == nil && resp.Rcode == dns.RcodeFormatError && resp.IsEdns0() == nil {
		// RFC 6891 §7: a FORMERR without OPT comes from a server that does
		// not know EDNS; ask again as RFC 1035 did.
		resp, err = c.exchangeOnce(ctx, "udp", server, newQuery(fqdn, qtype, false))
	}
	if err == nil && resp.Truncated {
		// RFC 7766 §5: the truncated part is unusable; ask over TCP.
		resp, err = c.exchangeOnce(ctx, "tcp", server, newQuery(fqdn, qtype, true))
	}
	return resp, err
}

func newQuery(fqdn string, qtype uint16, edns bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(fqdn, qtype) // also draws a random ID (RFC 5452)
	m.RecursionDesired = true
	if edns {
		m.SetEdns0(ednsSize, false)
	}
	return m
}

var errMismatch = errors.New("answer does not match the question")

// exchangeOnce is one message out and one back over a fresh connection,
// bounded by c.timeout and by ctx.
func (c *Client) exchangeOnce(ctx context.Context, network, server string, m *dns.Msg) (*dns.Msg, error) {
	if network == "tcp" {
		c.tcpQueries.Add(1)
	} else {
		c.udpQueries.Add(1)
	}
	// Timeout covers dial, write and read of this one attempt.
	dc := &dns.Client{Net: network, Timeout: c.timeout}
	conn, err := dc.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// miekg/dns only applies the context's deadline to the socket; closing
	// the connection is what interrupts a read on cancellation.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	resp, _, err := dc.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		return nil, err
	}
	// The ID already matched; also insist on the one question (RFC 9619)
	// being ours, so that a confused or spoofing middlebox cannot answer
	// another one (RFC 5452).
	q := m.Question[0]
	if !resp.Response || len(resp.Question) != 1 ||
		resp.Question[0].Qtype != q.Qtype || resp.Question[0].Qclass != q.Qclass ||
		!strings.EqualFold(resp.Question[0].Name, q.Name) {
		return nil, fmt.Errorf("%w (%s)", errMismatch, network)
	}
	return resp, nil
}
