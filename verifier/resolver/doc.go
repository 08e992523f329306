// Package resolver is Touchline's DNS stub resolver: MX, address and TXT
// lookups sent to recursive resolvers, with a shared cache, built on
// github.com/miekg/dns.
//
// The email verifier looks up the MX records of hundreds of thousands of
// addresses, most of them at a few thousand domains, so one [Client] is
// meant to be shared by every goroutine of a run: answers are cached and
// identical lookups in flight at the same moment are sent once.
// Other packages depend on the [Resolver] interface, not on [Client], so
// that tests can pass a fake.
//
// # Results
//
//   - [Resolver.LookupMX] returns the MX RRset sorted by preference (stable,
//     so equal preferences keep the server's order for the caller to
//     shuffle if it wants to, RFC 5321 §5.1). Hosts are lowercase without
//     the trailing dot; a null MX (RFC 7505) comes back as Host ".".
//   - [Resolver.LookupIP] sends the A and AAAA queries concurrently and
//     returns IPv4 addresses first, then IPv6.
//   - [Resolver.LookupTXT] returns one string per TXT record, its
//     character-strings concatenated without separators (RFC 7208 §3.3;
//     DKIM reads TXT the same way, RFC 6376 §3.6.2.2), with the bytes as
//     they were on the wire.
//
// A name that exists but has no record of the asked type (NODATA) is not an
// error: the result is (nil, nil). The verifier needs that distinction, as
// an empty MX set means the implicit MX of RFC 5321 §5.1 applies while
// NXDOMAIN means the domain cannot receive mail.
//
// # Errors
//
// Every failure is a [*LookupError] carrying the name, the query type and
// the server, wrapping one of [ErrNXDomain], [ErrServFail], [ErrTimeout] or
// [ErrInvalidName], or the caller's context error ([context.Canceled],
// [context.DeadlineExceeded]). Test with [errors.Is].
//
// # Protocol
//
//   - Queries go over UDP with EDNS0 advertising 1232 bytes (the DNS Flag
//     Day 2020 value that avoids IP fragmentation, RFC 6891 §6.2.5) and
//     the RD bit set (RFC 1035 §4.1.1): the servers are recursive
//     resolvers, not authorities.
//   - A truncated UDP answer (TC bit) is asked again over TCP from the same
//     server (RFC 7766 §5, RFC 1035 §4.2.2).
//   - A server that does not answer within Config.Timeout, fails at the
//     network level, answers SERVFAIL, REFUSED or any other unexpected
//     RCODE, or sends an answer to a different question, is skipped for
//     the next one; the whole list is tried Config.Attempts times.
//   - CNAME chains in the answer section are followed to the records of
//     the asked type (RFC 1034 §3.6.2); DNAME needs no code of its own as
//     resolvers synthesize the CNAME beside it (RFC 6672).
//   - Names are compared case-insensitively (RFC 4343) and taken with or
//     without the trailing dot; they are always absolute: the search list
//     and ndots of resolv.conf are ignored, an email domain is never
//     relative.
//
// # Cache
//
// Entries are keyed by (lowercase name, query type) and live for the
// smallest TTL of the records used, CNAMEs included (RFC 2181 §5.2 makes
// an RRset's TTLs equal; the chain is only as fresh as its weakest link),
// clamped to [Config.MinTTL, Config.MaxTTL]. NXDOMAIN and NODATA are cached
// for min(SOA TTL, SOA MINIMUM) from the authority section (RFC 2308 §5),
// or Config.NegativeTTL when the answer carries no SOA. SERVFAIL is cached
// for Config.FailureTTL (5 s by default): RFC 9520 §3.2 asks resolvers to
// cache resolution failures, and without it every address at a domain
// with broken name servers would pay the full retry budget again.
// Timeouts are never cached: they describe the path to our own recursive
// resolver, not the name, and Attempts has already retried them.
// Beyond Config.CacheSize entries the least recently used is evicted; a
// verification run keeps returning to the big providers' domains, and
// those stay.
package resolver
