#!/usr/bin/env bash
# Regenerates the embedded reference lists in this directory from their npm
# packages. Not run by tests or CI: a maintainer runs it by hand, reviews the
# diff, updates the versions in README.md and commits.
#
#   verifier/data/update.sh                 # latest published versions
#   DISPOSABLE_VERSION=1.26.0 FREE_VERSION=1.12.6 ROLE_VERSION=3.1.0 \
#   FILTER_VERSION=1.0.62 verifier/data/update.sh   # pinned versions
#
# Needs: bash, npm, node, tar.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

DISPOSABLE_PKG=disposable-email-domains-js
FILTER_PKG=disposable-email-domains
ROLE_PKG=role-based-email-addresses
FREE_PKG=free-email-domains

fetch() { # fetch NAME VERSION -> prints the unpacked package dir
	local name="$1" version="${2:-latest}" dir="$work/$1"
	mkdir -p "$dir"
	(cd "$dir" && npm pack --silent "$name@$version" >/dev/null)
	tar -xzf "$dir"/*.tgz -C "$dir"
	echo "$dir/package"
}

disposable_dir="$(fetch "$DISPOSABLE_PKG" "${DISPOSABLE_VERSION:-latest}")"
filter_dir="$(fetch "$FILTER_PKG" "${FILTER_VERSION:-latest}")"
role_dir="$(fetch "$ROLE_PKG" "${ROLE_VERSION:-latest}")"
free_dir="$(fetch "$FREE_PKG" "${FREE_VERSION:-latest}")"

OUT="$here" DISPOSABLE_DIR="$disposable_dir" FILTER_DIR="$filter_dir" \
ROLE_DIR="$role_dir" FREE_DIR="$free_dir" node - <<'EOF'
const fs = require('fs');
const path = require('path');
const env = process.env;

const version = dir => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
const readJSON = (dir, file) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
const today = new Date().toISOString().slice(0, 10);

// Lowercase, trim, drop blanks and anything that is not a plain ASCII
// domain / local part, de-duplicate, sort by byte order (as Go's sort does).
function clean(list, re) {
	const set = new Set();
	for (const raw of list) {
		const v = String(raw).trim().toLowerCase().replace(/\.$/, '');
		if (v && re.test(v)) set.add(v);
	}
	return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
const domainRe = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
const localRe = /^[a-z0-9][a-z0-9._-]*$/;

function write(file, header, entries) {
	const text = header.map(l => '# ' + l).join('\n') + '\n' + entries.join('\n') + '\n';
	fs.writeFileSync(path.join(env.OUT, file), text);
	console.log(`${file}: ${entries.length} entries`);
}

// 1. Disposable domains: the curated disposable-email-domains blocklist
//    (CC0), as packaged on npm by disposable-email-domains-js.
const dispVersion = version(env.DISPOSABLE_DIR);
const disposable = clean(readJSON(env.DISPOSABLE_DIR, 'dist/dict/disposable_email_blocklist.json'), domainRe);
write('disposable_domains.txt', [
	'Disposable / temporary email domains. A listed domain also matches its subdomains.',
	`Source: npm disposable-email-domains-js@${dispVersion} (CC0-1.0), dist/dict/disposable_email_blocklist.json,`,
	'        a packaging of the disposable-email-domains/disposable-email-domains blocklist.',
	`Generated: ${today} by verifier/data/update.sh; do not edit by hand.`,
], disposable);

// 2. Role accounts: mixmax role-based-email-addresses (MIT) plus a few
//    obvious missing ones (documented in README.md).
const roleVersion = version(env.ROLE_DIR);
const ROLE_ADDITIONS = ['bounce', 'bounces'];
const roles = clean([...require(path.join(env.ROLE_DIR, 'src/index.js')), ...ROLE_ADDITIONS], localRe);
write('role_accounts.txt', [
	'Role-account local parts (lowercase; the loader also folds "-", "_" and "." away).',
	`Source: npm role-based-email-addresses@${roleVersion} (MIT), src/index.js,`,
	`        plus local additions: ${ROLE_ADDITIONS.join(', ')}.`,
	`Generated: ${today} by verifier/data/update.sh; do not edit by hand.`,
], roles);

// 3. Free mailbox providers: kikobeats free-email-domains (MIT). That list
//    merges disposable lists into it, so everything that is disposable per
//    list 1 (domain or parent domain) or per ivolo's disposable-email-domains
//    (index.json + wildcard.json, MIT; used only as a filter) is dropped:
//    disposable wins.
const freeVersion = version(env.FREE_DIR);
const filterVersion = version(env.FILTER_DIR);
const drop = new Set([
	...disposable,
	...readJSON(env.FILTER_DIR, 'index.json').map(s => String(s).toLowerCase()),
	...readJSON(env.FILTER_DIR, 'wildcard.json').map(s => String(s).toLowerCase()),
]);
const isDropped = d => {
	const parts = d.split('.');
	for (let i = 0; i < parts.length - 1; i++) if (drop.has(parts.slice(i).join('.'))) return true;
	return false;
};
const FREE_ADDITIONS = ['tuta.com', 'tutamail.com', 'tutanota.com'];
const freeAll = clean(readJSON(env.FREE_DIR, 'domains.json'), domainRe);
const free = clean([...freeAll, ...FREE_ADDITIONS], domainRe).filter(d => !isDropped(d));
write('free_providers.txt', [
	'Free mailbox providers (webmail / ISP mailboxes anyone can sign up for).',
	`Source: npm free-email-domains@${freeVersion} (MIT), domains.json (${freeAll.length} entries),`,
	`        plus local additions: ${FREE_ADDITIONS.join(', ')};`,
	`        minus ${freeAll.length + FREE_ADDITIONS.filter(d => !freeAll.includes(d)).length - free.length} entries that are disposable per disposable_domains.txt or per`,
	`        npm disposable-email-domains@${filterVersion} (MIT, index.json + wildcard.json, filter only).`,
	`Generated: ${today} by verifier/data/update.sh; do not edit by hand.`,
], free);
EOF
