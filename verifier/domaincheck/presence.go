package domaincheck

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"

	"github.com/touchline/touchline/verifier/resolver"
)

// Presence says whether a domain publishes a record: a domain with MX, SPF
// and DMARC is a maintained mail domain; one with none is often parked.
type Presence string

const (
	Present Presence = "present"
	Absent  Presence = "absent"
	Invalid Presence = "invalid" // published but broken: several records, or one that does not parse
	Unknown Presence = "unknown" // the lookup failed
)

// SPFPresence reports whether domain publishes one well-formed SPF record.
// Unlike the SPF check it follows no includes: it costs one query, so it can
// run for every recipient domain of a list.
func SPFPresence(ctx context.Context, r resolver.Resolver, domain string) Presence {
	recs, err := txtWithPrefix(ctx, r, domain, "v=spf1")
	switch {
	case errors.Is(err, resolver.ErrNXDomain):
		return Absent
	case err != nil:
		return Unknown
	case len(recs) == 0:
		return Absent
	case len(recs) > 1:
		return Invalid
	}
	for _, t := range strings.Fields(recs[0])[1:] {
		if _, _, mod := splitModifier(t); mod {
			continue
		}
		m := strings.ToLower(strings.TrimLeft(t, "+-~?"))
		name, _, _ := strings.Cut(m, ":")
		name, _, _ = strings.Cut(name, "/")
		switch name {
		case "all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists":
		default:
			return Invalid
		}
	}
	return Present
}

// DMARCPresence reports whether a DMARC record applies to domain, its own or
// its organizational domain's.
func DMARCPresence(ctx context.Context, r resolver.Resolver, domain string) Presence {
	recs, _, err := DMARCPolicy(ctx, r, domain)
	switch {
	case err != nil:
		return Unknown
	case len(recs) == 0:
		return Absent
	case len(recs) > 1:
		return Invalid
	}
	if _, err := dmarc.Parse(recs[0]); err != nil {
		return Invalid
	}
	return Present
}
