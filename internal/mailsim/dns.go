package mailsim

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/miekg/dns"
)

// domain is a Domain with its parsed records.
type domain struct {
	Domain
	apexHost string              // canonical name of the Apex host, if any
	records  map[string][]dns.RR // Domain.Records by canonical owner name
	ents     map[string]bool     // empty non-terminals above those owners
}

// addRecords parses zone-file text relative to the domain.
func (d *domain) addRecords(text string) error {
	zp := dns.NewZoneParser(strings.NewReader(text), d.Name+".", "")
	zp.SetDefaultTTL(d.TTL)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		owner := canonical(rr.Header().Name)
		if owner != d.Name && !strings.HasSuffix(owner, "."+d.Name) {
			return fmt.Errorf("mailsim: domain %s: record %q is outside the domain", d.Name, text)
		}
		d.records[owner] = append(d.records[owner], rr)
		for p := parent(owner); p != d.Name && p != ""; p = parent(p) {
			d.ents[p] = true
		}
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("mailsim: domain %s: record %q: %w", d.Name, text, err)
	}
	return nil
}

// startDNS binds UDP and TCP on one port of 127.0.0.1 and serves both.
func (w *World) startDNS() error {
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 20 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("mailsim: dns: %w", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if !errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("mailsim: dns: %w", err)
		}
	}
	if err != nil {
		return fmt.Errorf("mailsim: dns: no port free for both UDP and TCP: %w", err)
	}
	w.dnsAddr = pc.LocalAddr().String()
	// A benchmark fires hundreds of queries at once; the default receive
	// buffer (about 200 KiB, some 270 queries) drops the rest. The kernel
	// caps this at net.core.rmem_max.
	pc.(*net.UDPConn).SetReadBuffer(8 << 20)

	handler := dns.HandlerFunc(w.serveDNS)
	udpUp, tcpUp := make(chan struct{}), make(chan struct{})
	w.dnsUDP = &dns.Server{PacketConn: pc, Handler: handler, UDPSize: 4096,
		NotifyStartedFunc: func() { close(udpUp) }}
	w.dnsTCP = &dns.Server{Listener: ln, Handler: handler,
		NotifyStartedFunc: func() { close(tcpUp) }}
	failed := make(chan error, 2)
	for _, srv := range []*dns.Server{w.dnsUDP, w.dnsTCP} {
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				failed <- err
			}
		}()
	}
	// Shutdown refuses a server that has not started yet, so Close right
	// after New needs both to be up.
	for _, up := range []chan struct{}{udpUp, tcpUp} {
		select {
		case <-up:
		case err := <-failed:
			pc.Close()
			ln.Close()
			return fmt.Errorf("mailsim: dns: %w", err)
		}
	}
	return nil
}

func (w *World) serveDNS(rw dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	name := canonical(q.Name)
	_, udp := rw.RemoteAddr().(*net.UDPAddr)

	w.mu.RLock()
	fault := NoFault
	if z := w.zoneOf(name); z != nil {
		fault = z.DNSFault
	}
	w.mu.RUnlock()

	if fault == Timeout {
		w.logf("dns %s %s: dropped", dns.TypeToString[q.Qtype], name)
		return
	}
	if !w.sleep(w.opts.DNSLatency) {
		return
	}

	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	switch {
	case fault == NXDomain:
		m.Rcode = dns.RcodeNameError
		w.mu.RLock()
		m.Ns = []dns.RR{w.soa(name, w.zoneOf(name))}
		w.mu.RUnlock()
	case fault == ServFail:
		m.Rcode = dns.RcodeServerFailure
		m.Authoritative = false
	case fault == Truncate && udp:
		m.Truncated = true
	default:
		w.answer(m, name, q.Qtype)
	}

	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		// RFC 6891 §7: answer EDNS with EDNS.
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		m.SetEdns0(1232, false)
	}
	if udp {
		m.Truncate(size)
	}
	w.logf("dns %s %s: %s, %d answers, tc=%v", dns.TypeToString[q.Qtype], name,
		dns.RcodeToString[m.Rcode], len(m.Answer), m.Truncated)
	rw.WriteMsg(m)
}

// answer fills m for name and qtype, following CNAMEs through the world.
func (w *World) answer(m *dns.Msg, name string, qtype uint16) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	for range 8 {
		zone := w.zoneOf(name)
		rrs := w.recordsAt(name, zone)
		if len(rrs) == 0 && !w.exists(name, zone) {
			// RFC 6604: after a CNAME the rcode describes the last name.
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{w.soa(name, zone)}
			return
		}
		var cname *dns.CNAME
		matched := false
		for _, rr := range rrs {
			switch t := rr.Header().Rrtype; {
			case t == qtype || qtype == dns.TypeANY:
				m.Answer = append(m.Answer, dns.Copy(rr))
				matched = true
			case t == dns.TypeCNAME:
				cname = rr.(*dns.CNAME)
			}
		}
		if matched || cname == nil {
			if !matched {
				m.Ns = []dns.RR{w.soa(name, zone)} // RFC 2308 §2.2 NODATA
			}
			return
		}
		m.Answer = append(m.Answer, dns.Copy(cname))
		name = canonical(cname.Target)
	}
}

// zoneOf returns the nearest domain at or above name. Callers hold w.mu.
func (w *World) zoneOf(name string) *domain {
	for n := name; n != ""; n = parent(n) {
		if d, ok := w.domains[n]; ok {
			return d
		}
	}
	return nil
}

// recordsAt returns every record owned by name. Callers hold w.mu.
func (w *World) recordsAt(name string, zone *domain) []dns.RR {
	var rrs []dns.RR
	ttl := uint32(300)
	if zone != nil {
		ttl = zone.TTL
	}
	if zone != nil && name == zone.Name {
		rrs = append(rrs, w.soa(name, zone))
		hdr := dns.RR_Header{Name: name + ".", Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: ttl}
		if zone.NullMX {
			rrs = append(rrs, &dns.MX{Hdr: hdr, Preference: 0, Mx: "."})
		}
		for _, mx := range zone.MX {
			rrs = append(rrs, &dns.MX{Hdr: hdr, Preference: mx.Pref, Mx: canonical(mx.Host) + "."})
		}
		if h, ok := w.hosts[zone.apexHost]; ok && zone.apexHost != name {
			rrs = append(rrs, h.addressRR(name, ttl))
		}
	}
	if h, ok := w.hosts[name]; ok {
		rrs = append(rrs, h.addressRR(name, ttl))
	}
	if zone != nil {
		rrs = append(rrs, zone.records[name]...)
	}
	return rrs
}

// exists reports whether name exists without owning records (an empty
// non-terminal, RFC 8020). Callers hold w.mu.
func (w *World) exists(name string, zone *domain) bool {
	return w.hostENTs[name] || zone != nil && (name == zone.Name || zone.ents[name])
}

// soa returns the SOA that answers for name: its domain's, or for a name
// under no domain a synthetic one for its top-level label.
func (w *World) soa(name string, zone *domain) dns.RR {
	apex, ttl := name, uint32(300)
	if zone != nil {
		apex, ttl = zone.Name, zone.TTL
	} else if i := strings.LastIndexByte(name, '.'); i >= 0 {
		apex = name[i+1:]
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: dns.Fqdn(apex), Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      dns.Fqdn("ns1." + apex),
		Mbox:    dns.Fqdn("hostmaster." + apex),
		Serial:  2024010101,
		Refresh: 3600,
		Retry:   600,
		Expire:  604800,
		Minttl:  ttl, // RFC 2308 §4: the negative-caching TTL
	}
}

// addressRR is the A or AAAA record that points owner at h.
func (h *host) addressRR(owner string, ttl uint32) dns.RR {
	hdr := dns.RR_Header{Name: dns.Fqdn(owner), Class: dns.ClassINET, Ttl: ttl}
	if h.ip.Is4() {
		hdr.Rrtype = dns.TypeA
		return &dns.A{Hdr: hdr, A: h.ip.AsSlice()}
	}
	hdr.Rrtype = dns.TypeAAAA
	return &dns.AAAA{Hdr: hdr, AAAA: h.ip.AsSlice()}
}
