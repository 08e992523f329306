package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/touchline/touchline/internal/demo"
	"github.com/touchline/touchline/internal/inbound"
	"github.com/touchline/touchline/internal/inbound/senderauth"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/sequencer"
)

// demoMail is the way back in make run's simulated world: Touchline's
// inbound SMTP server for the demo's bounce and tracking domain, the rep's
// mailbox served over IMAP, and the recipients who answer the cadence
// (demo.Answers) through both.
type demoMail struct {
	store   *mailsim.Mailstore
	inbound string // host:port of the inbound SMTP server
	corr    *mailsim.Correspondents
	closers []func()
}

// startDemoMail starts the mailstore and, unless serve runs one
// (inboundAddr), an inbound SMTP server of its own with a throwaway
// certificate; the correspondents deliver to it over STARTTLS, and start
// answering when run is called.
func startDemoMail(pr *process, bounceDomain, inboundAddr string) (*demoMail, error) {
	if pr.world == nil || pr.engine == nil {
		return nil, fmt.Errorf("the demo's replies need --sim and the sequencer")
	}
	ms, err := mailsim.NewMailstore()
	if err != nil {
		return nil, err
	}
	dm := &demoMail{store: ms, closers: []func(){func() { ms.Close() }}}
	if inboundAddr == "" {
		tlsCfg, err := selfSignedTLS("in." + demo.SenderDomain)
		if err != nil {
			dm.close()
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			dm.close()
			return nil, err
		}
		srv := inbound.NewSMTPServer(inbound.SMTPConfig{Domains: []string{bounceDomain}, Hostname: "in." + demo.SenderDomain, Logger: pr.log, TLSConfig: tlsCfg},
			&sequencer.Inbox{Engine: pr.engine, River: pr.river, Auth: &senderauth.Checker{Resolver: pr.resolver}})
		go srv.Serve(ln)
		dm.closers = append(dm.closers, func() { srv.Close() })
		inboundAddr = ln.Addr().String()
	}
	dm.inbound = inboundAddr
	// The certificate is self-signed (or whatever --inbound-tls-cert
	// holds): opportunistic TLS between MTAs does not verify it (RFC 7435).
	dm.corr = &mailsim.Correspondents{World: pr.world, Script: demo.Answers, InboundAddr: inboundAddr, Mailstore: ms,
		InboundTLS: &tls.Config{InsecureSkipVerify: true},
		Logf:       func(format string, args ...any) { pr.log.Debug(fmt.Sprintf(format, args...)) }}
	return dm, nil
}

// run answers the world's mail until ctx ends.
func (dm *demoMail) run(ctx context.Context) { go dm.corr.Run(ctx) }

func (dm *demoMail) close() {
	for i := len(dm.closers) - 1; i >= 0; i-- {
		dm.closers[i]()
	}
}
