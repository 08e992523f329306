package verifier

import (
	_ "embed"
	"strings"
	"sync"
)

// Reference lists embedded from data/. Each file is plain text, one
// lowercase entry per line, sorted, with "#" comment lines at the top that
// name the source and version. data/README.md says where they come from and
// data/update.sh regenerates them.

//go:embed data/disposable_domains.txt
var disposableDomainsTxt string

//go:embed data/role_accounts.txt
var roleAccountsTxt string

//go:embed data/free_providers.txt
var freeProvidersTxt string

// parseEmbeddedList turns an embedded list into a set. Comment lines ("#...") and
// blank lines are skipped; every entry is passed through norm.
func parseEmbeddedList(text string, norm func(string) string) map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(text, "\n")+1)
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k := norm(line); k != "" {
			set[k] = struct{}{}
		}
	}
	return set
}

var (
	disposableDomains = sync.OnceValue(func() map[string]struct{} {
		return parseEmbeddedList(disposableDomainsTxt, listDomainKey)
	})
	roleAccounts = sync.OnceValue(func() map[string]struct{} {
		return parseEmbeddedList(roleAccountsTxt, roleListKey)
	})
	freeProviders = sync.OnceValue(func() map[string]struct{} {
		return parseEmbeddedList(freeProvidersTxt, listDomainKey)
	})
)

// listDomainKey lowercases ASCII and drops a trailing root dot.
func listDomainKey(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// roleListKey is the lookup key of a local part: lowercase, without a "+tag"
// suffix, and with the separators "-", "_" and "." removed, so that
// "no-reply", "no_reply", "no.reply" and "noreply" are one key.
func roleListKey(local string) string {
	local = strings.ToLower(strings.TrimSpace(local))
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i]
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.':
			return -1
		}
		return r
	}, local)
}

// listHasDomainOrParent reports whether domain or one of its parent domains is in set
// (x.mailinator.com matches mailinator.com). A bare TLD is never tried.
func listHasDomainOrParent(set map[string]struct{}, domain string) bool {
	d := listDomainKey(domain)
	for d != "" {
		if _, ok := set[d]; ok {
			return true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return false
		}
		d = d[i+1:]
		if !strings.Contains(d, ".") {
			return false // only the TLD is left
		}
	}
	return false
}

// isDisposableDomain reports whether domain is a known disposable /
// temporary mail domain, or a subdomain of one.
func isDisposableDomain(domain string) bool {
	return listHasDomainOrParent(disposableDomains(), domain)
}

// isRoleAccount reports whether local (the part before "@") names a role or
// group mailbox rather than a person: case-insensitive, a "+tag" suffix is
// ignored and "-", "_", "." are not significant ("No_Reply+x" is a role).
func isRoleAccount(local string) bool {
	k := roleListKey(local)
	if k == "" {
		return false
	}
	_, ok := roleAccounts()[k]
	return ok
}

// isFreeProvider reports whether domain is a free mailbox provider
// (gmail.com, outlook.com, gmx.de, ...). Only the exact domain is matched.
// A domain that is also disposable is not a free provider: disposable wins.
func isFreeProvider(domain string) bool {
	d := listDomainKey(domain)
	if _, ok := freeProviders()[d]; !ok {
		return false
	}
	return !isDisposableDomain(d)
}
