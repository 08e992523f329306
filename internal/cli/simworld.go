package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/touchline/touchline/internal/demo"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/store"
)

// simMail is what serve --sim gives cadences besides the recipients'
// world: the demo team's sending domain (touchline-demo.test, SPF and
// DMARC in place, DKIM records published through POST /sim/dns as one
// would at a DNS provider), its submission server reachable by name
// (smtp.touchline-demo.test, any port), and the recipients who answer
// (demoMail). The README's first cadence walks through it.
type simMail struct {
	world *mailsim.World
	mail  *demoMail

	mu   sync.Mutex
	dkim []string // zone-file lines published so far
}

// startSimMail starts it; inboundAddr is serve's inbound SMTP server
// (--inbound-listen), where the recipients' bounces and replies go, or ""
// for a server of its own.
func startSimMail(ctx context.Context, pr *process, inboundAddr string) (*simMail, error) {
	sm := &simMail{world: pr.world}
	if _, err := demo.AddSender(pr.world); err != nil {
		return nil, err
	}
	dm, err := startDemoMail(pr, pr.engine.BounceDomain, inboundAddr)
	if err != nil {
		return nil, err
	}
	sm.mail = dm
	dm.run(ctx)
	go func() { <-ctx.Done(); dm.close() }()
	return sm, nil
}

// publish adds zone-file lines to the sending domain's DNS. A line
// outside the domain, or one that does not parse, is refused and nothing
// changes.
func (sm *simMail) publish(text string) (int, error) {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, ";") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return 0, errors.New("no record: send zone-file lines, e.g. the one touchline dkim keygen prints")
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	// A record replaces what was published at the same name, as editing
	// a record at a DNS provider does: a second DKIM key at one selector
	// would fail the preflight.
	owner := func(l string) string { return strings.ToLower(strings.TrimSuffix(strings.Fields(l)[0], ".")) }
	replaced := map[string]bool{}
	for _, l := range lines {
		replaced[owner(l)] = true
	}
	var all []string
	for _, l := range sm.dkim {
		if !replaced[owner(l)] {
			all = append(all, l)
		}
	}
	all = append(all, lines...)
	if _, err := demo.AddSender(sm.world, all...); err != nil {
		return 0, errors.New(strings.TrimPrefix(err.Error(), "mailsim: "))
	}
	sm.dkim = all
	return len(lines), nil
}

// simDialer reaches the simulated world's hosts by name: a submission
// server named in a mailbox (smtp.touchline-demo.test) is dialed at its
// loopback address on the world's SMTP port, whatever port the mailbox
// says, as a real one would answer on 587. IP literals pass as they are;
// mailsim.Dialer refuses anything but loopback.
type simDialer struct {
	world *mailsim.World
	next  mailsim.Dialer
}

func (d *simDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err != nil {
		ip, ok := d.world.HostIP(host)
		if !ok {
			return nil, fmt.Errorf("the simulated world has no host %s (its submission server is %s)", host, demo.SubmissionHost)
		}
		address = net.JoinHostPort(ip.String(), strconv.Itoa(d.world.SMTPPort()))
	}
	return d.next.DialContext(ctx, network, address)
}

// simDNSHandler is POST /sim/dns, served only with --sim: the body is
// zone-file lines for touchline-demo.test (what touchline dkim keygen
// prints), published in the simulated DNS. It takes an API key like the
// API, so a stray request cannot change what the preflight sees.
func simDNSHandler(st *store.Store, sm *simMail) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		plain := func(status int, msg string) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprintln(w, msg)
		}
		key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, err := st.Authenticate(r.Context(), strings.TrimSpace(key)); err != nil {
			plain(http.StatusUnauthorized, "send an API key as \"Authorization: Bearer <key>\"")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			plain(http.StatusRequestEntityTooLarge, "at most 64 KB of zone-file lines")
			return
		}
		n, err := sm.publish(string(body))
		if err != nil {
			plain(http.StatusUnprocessableEntity, "not published: "+err.Error())
			return
		}
		plain(http.StatusOK, fmt.Sprintf("published %d records in the simulated DNS of %s", n, demo.SenderDomain))
	}
}
