// Package mailsim is a simulated Internet mail world on loopback: one
// authoritative DNS server and any number of SMTP hosts, scripted per host
// and per domain, for the verifier's tests, its benchmark and the offline
// demo. It never connects anywhere itself; everything it opens listens on
// 127.0.0.0/8.
//
// # The world
//
// New starts the DNS server on 127.0.0.1:PORT, UDP and TCP on the same port
// (World.DNSAddr). Every simulated SMTP host listens on its own loopback IP,
// allocated from 127.1.0.2 upward, on one port shared by the whole world
// (World.SMTPPort), so a client that resolves an MX to an IP and dials
// IP:SMTPPort reaches the right host, as it would dial IP:25 in the field.
// The port is chosen by the kernel while binding 127.1.0.1, which every
// world keeps bound for its lifetime: two worlds, in one process or in
// parallel test processes, therefore never share a port. A host IP that a
// foreign process already holds is skipped. Linux routes all of 127/8 to
// lo, which this relies on.
//
// AddHost and AddDomain are safe for concurrent use at any time after New,
// also while clients are connected. Adding a name again replaces its
// configuration: new connections and queries see the new one (a host keeps
// its IP; turning Down on closes its listener and its connections, turning
// it off listens again). HostStats, Messages and Close complete the World.
//
// # DNS
//
// The server is authoritative (AA set, RA clear) and answers A, AAAA, MX,
// TXT, CNAME and SOA (and any type given in Domain.Records) for:
//   - each Domain: SOA at its name; MX records, or the null MX "MX 0 ." of
//     RFC 7505 with Domain.NullMX; an A or AAAA record at its name when it
//     has an Apex host (with no MX that host is the implicit MX, RFC 5321
//     §5.1); and Domain.Records, zone-file lines parsed with the domain as
//     $ORIGIN and its TTL as $TTL, so multi-string TXT records work;
//   - each Host: an A record (AAAA for an IPv6 Address override) at its name.
//
// A name that does not exist gets NXDOMAIN with the zone's SOA in the
// authority section; an existing name, or an empty non-terminal such as
// _domainkey.acme.test, without the asked type gets NOERROR with no answer
// and the SOA (RFC 2308 NODATA; RFC 8020 for empty non-terminals). A CNAME
// is followed through the world's own data. UDP answers larger than the
// client's buffer (512 bytes, or its EDNS0 size) are truncated with TC set,
// as a real server does. Domain.DNSFault breaks a whole zone: the domain
// and every name under it, host names included.
//
// Options.DNSLatency is added before every answer; queries are served
// concurrently (miekg/dns runs one goroutine per UDP packet; TCP queries on
// one connection are served in turn, as on a real server).
//
// # SMTP
//
// The hosts run a small ESMTP server written for this package (RFC 5321,
// STARTTLS RFC 3207, PIPELINING RFC 2920, ENHANCEDSTATUSCODES RFC 2034,
// SMTPUTF8 RFC 6531) rather than go-smtp's: the simulation must count every
// command (go-smtp answers DATA without recipients and tells its backend
// nothing, and calls Reset for RSET, EHLO and after DATA alike), send its
// own reply instead of the greeting, close right after a reply, and print
// an enhanced code on every line of a multi-line reply as Gmail does
// (go-smtp prints it on the last line only).
//
// Replies to RCPT come from the recipient's Domain, whichever host receives
// them: relay denied for a domain the world does not know; Domain.PolicyBlock
// for every recipient; greylisting of the (client IP, MAIL FROM, RCPT TO)
// triplet (RFC 6647) for Domain.Greylist after its first attempt; then the
// mailbox: Exists accepted, Full and Disabled refused as such, an unknown
// local part accepted with Domain.CatchAll and refused as unknown otherwise.
// Local parts are matched lowercased; the greylist clock is Options.Now.
// Before any of that, a host may refuse the connection (BannerReject,
// MaxConns), delay its greeting (BannerDelay), demand STARTTLS before MAIL
// (RequireTLS) or hang up on a client that collects too many refused
// recipients (DisconnectAfterInvalid). Host.Style picks the wording of the
// replies ("postfix", the default, "exim", "gmail", "m365", "exchange",
// "yahoo"), taken from what those servers send; see replies.go. Protocol
// errors use Postfix's texts for every style.
//
// DATA is refused with 554 unless every accepted recipient's domain has
// AcceptData; accepted messages are kept and returned by World.Messages.
// VRFY and EXPN are disabled, AUTH and BDAT are not offered.
//
// Options.SMTPLatency and Host.ReplyDelay are paid each time the server
// sends what it has to say, which for a client that waits for each reply is
// before every reply, the greeting included; commands that a client
// pipelined are answered together and pay once, as over a real link.
// Host.BannerDelay is added before the greeting only (a tarpit).
//
// Per host, HostStats counts connections (including the refused ones), the
// most connections open at once, EHLO/HELO names, completed STARTTLS
// handshakes and every MAIL, RCPT, RSET and DATA command, accepted or not,
// and the 421 replies sent.
//
// # Safety net
//
// Dialer refuses, without dialing, any destination that is not a loopback
// IP literal and counts the refusals; tests put it behind the verifier's
// dialer seam so that a bug cannot reach a real mail server.
package mailsim
