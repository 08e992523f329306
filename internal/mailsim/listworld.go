package mailsim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// ListWorldOptions shape a world like the lists Touchline cleans: many
// companies, a third of them hosted by a few shared mail providers (as
// Google Workspace and Microsoft 365 host most B2B domains), some
// greylisting, a few tarpits, some hosts that allow few connections.
type ListWorldOptions struct {
	// Domains is how many recipient domains (default 900); Addresses how
	// many list rows (default 25,200).
	Domains, Addresses int
	// Providers is how many shared providers host a third of the domains
	// (default 3).
	Providers int
	// GreylistShare is the share of domains that greylist (default 0.10,
	// less the ones at Gmail- and Yahoo-like hosts, which do not), each
	// for GreylistDelay (default 1s).
	GreylistShare float64
	GreylistDelay time.Duration
	// Tarpits is how many domains have a host that delays its greeting by
	// TarpitDelay (defaults 3 and 30s): longer than any sane banner
	// timeout.
	Tarpits     int
	TarpitDelay time.Duration
	// LimitedShare is the share of hosts that take at most one or two
	// connections at once (default 0.05). ProviderMaxConns limits each
	// provider host (default 8).
	LimitedShare     float64
	ProviderMaxConns int
	// Seed makes the list's order and the choices repeatable.
	Seed uint64
}

// ListWorld is what BuildListWorld made: the list, and what a correct
// verifier says about each address.
type ListWorld struct {
	// Addresses is the list in its (shuffled) order.
	Addresses []string
	// Want maps each address to the verifier reason a correct verdict
	// has: accepted, mailbox_not_found, mailbox_full, mailbox_disabled,
	// catch_all or timeout (a tarpit).
	Want map[string]string
	// MaxConns maps each connection-limited host to its limit.
	MaxConns map[string]int
	// Hosts lists every host name the world has.
	Hosts []string
}

// BuildListWorld adds a list-shaped set of domains and hosts to w.
func BuildListWorld(w *World, o ListWorldOptions) (*ListWorld, error) {
	if o.Domains <= 0 {
		o.Domains = 900
	}
	if o.Addresses <= 0 {
		o.Addresses = 25_200
	}
	if o.Providers <= 0 {
		o.Providers = 3
	}
	if o.GreylistShare == 0 {
		o.GreylistShare = 0.10
	}
	if o.GreylistDelay <= 0 {
		o.GreylistDelay = time.Second
	}
	if o.Tarpits == 0 {
		o.Tarpits = 3
	}
	if o.TarpitDelay <= 0 {
		o.TarpitDelay = 30 * time.Second
	}
	if o.LimitedShare == 0 {
		o.LimitedShare = 0.05
	}
	if o.ProviderMaxConns <= 0 {
		o.ProviderMaxConns = 8
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x70c4))
	lw := &ListWorld{Want: map[string]string{}, MaxConns: map[string]int{}}
	addHost := func(h Host) error {
		lw.Hosts = append(lw.Hosts, h.Name)
		if h.MaxConns > 0 {
			lw.MaxConns[h.Name] = h.MaxConns
		}
		return w.AddHost(h)
	}

	// Each provider has a primary and a backup MX under its own
	// registrable domain, as aspmx.l.google.com and alt1.aspmx.l.google.com.
	provStyles := []string{"gmail", "m365", "yahoo"}
	type provider struct{ mx []MX }
	provs := make([]provider, o.Providers)
	for p := range provs {
		base := fmt.Sprintf("provider%d.test", p)
		for i, name := range []string{"mx1." + base, "mx2." + base} {
			if err := addHost(Host{Name: name, Style: provStyles[p%len(provStyles)], StartTLS: true, MaxConns: o.ProviderMaxConns}); err != nil {
				return nil, err
			}
			provs[p].mx = append(provs[p].mx, MX{Pref: uint16(10 * (i + 1)), Host: name})
		}
	}

	perDomain := (o.Addresses + o.Domains - 1) / o.Domains
	hosted := o.Domains / 3
	ownHosts := o.Domains - hosted
	limited := int(float64(ownHosts+2*o.Providers) * o.LimitedShare)
	styles := []string{"postfix", "exim", "exchange", "postfix", "gmail", "m365"}
	// Gmail and Yahoo do not greylist; their per-recipient deferrals read
	// as rate limits, not greylisting.
	greylists := map[string]bool{"postfix": true, "exim": true, "exchange": true, "m365": true}
	for d := range o.Domains {
		name := fmt.Sprintf("company%04d.test", d)
		dom := Domain{Name: name, Mailboxes: map[string]Mailbox{}, CatchAll: d%40 == 7}
		style := styles[d%len(styles)]
		tarpit := false
		if d < hosted {
			dom.MX = provs[d%o.Providers].mx
			style = provStyles[(d%o.Providers)%len(provStyles)]
		}
		if d%100 < int(o.GreylistShare*100) && greylists[style] {
			// Spread over hosted and own domains alike.
			dom.Greylist = o.GreylistDelay
		}
		if d >= hosted {
			i := d - hosted
			h := Host{Name: "mx." + name, Style: style, StartTLS: d%2 == 0}
			switch {
			case i < o.Tarpits:
				h.BannerDelay, tarpit = o.TarpitDelay, true
			case i < o.Tarpits+limited:
				h.MaxConns = 1 + i%2
			}
			if err := addHost(h); err != nil {
				return nil, err
			}
			dom.MX = []MX{{Pref: 10, Host: h.Name}}
		}
		for i := range perDomain {
			if len(lw.Addresses) >= o.Addresses {
				break
			}
			local := fmt.Sprintf("person%d", i)
			addr := local + "@" + name
			var want string
			switch i % 20 {
			case 14, 15, 16, 17:
				want = "mailbox_not_found"
				if dom.CatchAll {
					want = "catch_all"
				}
			case 18:
				dom.Mailboxes[local] = Full
				want = "mailbox_full"
			case 19:
				dom.Mailboxes[local] = Disabled
				want = "mailbox_disabled"
			default:
				dom.Mailboxes[local] = Exists
				want = "accepted"
				if dom.CatchAll {
					want = "catch_all"
				}
			}
			if tarpit {
				want = "timeout"
			}
			lw.Addresses = append(lw.Addresses, addr)
			lw.Want[addr] = want
		}
		if err := w.AddDomain(dom); err != nil {
			return nil, err
		}
	}
	// A list is not sorted by domain.
	rng.Shuffle(len(lw.Addresses), func(i, j int) {
		lw.Addresses[i], lw.Addresses[j] = lw.Addresses[j], lw.Addresses[i]
	})
	return lw, nil
}
