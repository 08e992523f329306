package smtpreply

import "strings"

// Signal is one thing reply text can say, found by its words.
type Signal uint32

const (
	SaysNotFound          Signal = 1 << iota // the mailbox does not exist
	SaysHostNotFound                         // the domain or host does not exist
	SaysNullMX                               // the domain accepts no mail (RFC 7505)
	SaysDisabled                             // the account is disabled, inactive, closed (weak words)
	SaysDisabledStrongly                     // the same, said so plainly that no policy word outweighs it
	SaysFull                                 // the mailbox is over quota
	SaysBlocklist                            // a DNS blocklist or filtering service names the sender
	SaysAuth                                 // SPF, DKIM, DMARC, reverse DNS
	SaysReputation                           // reputation, unsolicited mail
	SaysSpam                                 // the message was judged spam
	SaysRate                                 // too many messages, connections or recipients
	SaysPolicy                               // a policy or access refusal
	SaysRelay                                // relaying refused: the server does not serve the domain for us
	SaysSender                               // our envelope sender was refused
	SaysTLS                                  // TLS is required
	SaysGreylist                             // greylisting
	SaysDNSTrouble                           // a DNS lookup failed (not NXDOMAIN)
	SaysSize                                 // the message is too big
	SaysContent                              // the message content was refused
	SaysRecipientRejected                    // "recipient address rejected" (Postfix, Exchange Online)
	SaysSyntax                               // the address is malformed
	SaysExpired                              // the message waited too long in the sender's queue
)

// Signals is the set of Signal a text carries.
type Signals Signal

// Has reports whether s carries sig.
func (s Signals) Has(sig Signal) bool { return Signal(s)&sig != 0 }

// Words reads text for every Signal. Text is compared lowercased, with "-"
// and "_" read as spaces and runs of spaces folded, so that
// "Invalid-Recipient" and "invalid  recipient" read alike.
func Words(text string) Signals {
	t := Normalize(text)
	for _, hedge := range []string{"may not exist", "might not exist", "may no longer exist"} {
		// A guess ("the group you tried to contact may not exist, or you
		// may not have permission to post", Google Groups) states nothing.
		t = strings.ReplaceAll(t, hedge, "")
	}
	var s Signal
	for _, l := range lists {
		if containsAny(t, l.words) {
			s |= l.sig
		}
	}
	if s&SaysNotFound == 0 && s&otherCauses == 0 && containsAny(t, weakNotFound) {
		// RFC 5321 §4.2.2's own text for 550, "mailbox unavailable", is
		// what servers write whatever the cause; it says the mailbox does
		// not exist only when nothing else is named ("... mailbox
		// unavailable (quota exceeded)" is a full mailbox).
		s |= SaysNotFound
	}
	if s&SaysHostNotFound == 0 && containsAny(t, weakDNSTrouble) {
		// "DNS Error: Domain name not found" (Gmail) is an answer that the
		// name does not exist; "DNS error" alone is a failed lookup.
		s |= SaysDNSTrouble
	}
	return Signals(s)
}

// Normalize lowercases text, reads "-" and "_" as spaces and folds runs of
// white space into one space.
func Normalize(text string) string {
	t := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '\t', '\n', '\r':
			return ' '
		}
		return r
	}, strings.ToLower(text))
	return strings.Join(strings.Fields(t), " ")
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// weakNotFound is RFC 5321's generic text for 550.
var weakNotFound = []string{"mailbox unavailable"}

// otherCauses are the signals that name a cause other than a missing
// mailbox.
const otherCauses = SaysFull | SaysBlocklist | SaysAuth | SaysReputation | SaysSpam | SaysRate | SaysPolicy |
	SaysRelay | SaysSender | SaysTLS | SaysGreylist | SaysDNSTrouble | SaysSize | SaysDisabled | SaysDisabledStrongly

// weakDNSTrouble names a DNS problem without saying which: trouble unless
// the text also says the name does not exist.
var weakDNSTrouble = []string{"dns error", "dns failure", "dns lookup failure"}

// The word lists: one set for the verifier and the inbound classifier.
// Each entry is matched against Normalize output.
var lists = []struct {
	sig   Signal
	words []string
}{
	{SaysNotFound, []string{
		"user unknown", "unknown user", "no such user", "no such recipient", "no such mailbox",
		"no such address", "no such account", "no mailbox", "no mail box", "mail box not found", "mailbox not found",
		"mailbox does not exist", "mailbox doesn't exist", "does not exist", "doesn't exist", "not exist",
		"recipnotfound", "recipientnotfound", "recipient not found", "user not found", "address not found",
		"unknown recipient", "recipient unknown", "invalid recipient", "invalid mailbox", "not a valid mailbox",
		"not a valid user", "invalid user", "unknown address", "address unknown", "unrouteable address", "unroutable address",
		"no such person", "bad destination mailbox", "account that you tried to reach does not",
		"is not a known user", "unknown local part", "addressee unknown", "address couldn't be found",
		"address could not be found", "wasn't found at", "was not found at", "not our customer",
		"no longer available", "has moved", "no such local user", "user doesn't have a", "user does not have a",
		"not listed in domino", "not listed in public name", "invalid address", "undeliverable address",
		"recipient address rejected: user", "bad recipient", "user not known", "unknown or illegal",
		"no longer on server", "not an active address", "recipient rejected", "mailbox unallocated",
		"unknown alias", "illegal alias", "invalid final delivery", "user doesn't have", "not a known user",
		"address is wrong", "no such user here", "wrong or no longer valid",
		"ungültige", "unbekannt", "nie istnieje", "n'existe pas", "inexistant", "non esiste", "no existe",
		"不明", "存在しません", "mailbox name not allowed", "user invalid", "is not valid", "recipient invalid",
		"invalid email address", "email address is marked as invalid", "could not be found, or was misspelled",
		"failed to locate", "fails to locate", "did not exactly match", "final email delivery point",
		"destination mailbox", "mailbox is not valid", "no account", "account does not exist", "not found in directory",
		"no such mail", "no valid recipient", "user is unknown", "unknown mailbox", "unknown account", "recipient name is not recognized",
		// French, Spanish, Portuguese, Italian, Dutch, Russian, Chinese,
		// Korean: "unknown user", "does not exist".
		"utilisateur inconnu", "destinataire inconnu", "adresse inconnue", "usuario desconocido",
		"destinatario desconocido", "usuário desconhecido", "usuario desconhecido", "destinatário desconhecido",
		"não existe", "nao existe", "inexistente", "utente sconosciuto", "destinatario sconosciuto",
		"indirizzo sconosciuto", "onbekende gebruiker", "onbekende ontvanger", "bestaat niet",
		"пользователь не найден", "неизвестный пользователь", "не существует", "нет такого пользователя",
		"用户不存在", "收件人不存在", "地址不存在", "帐户不存在", "账户不存在", "존재하지 않",
	}},
	{SaysHostNotFound, []string{
		"host not found", "host unknown", "unknown host", "no such domain", "domain not found",
		"couldn't find any host", "could not find any host", "nxdomain", "domain name not found",
		"domain does not exist", "name or service not known", "host or domain name not found",
		"unrouteable mail domain", "unroutable mail domain", "domain is not valid", "invalid domain",
		"no mx", "bad system", "unknown domain", "illegal host", "domaine inexistant", "dominio inexistente",
		"domínio inexistente", "域名不存在",
	}},
	{SaysNullMX, []string{
		"null mx", "nullmx", "domain does not accept mail", "host does not accept mail",
		"does not accept email", "does not accept mail",
	}},
	{SaysDisabled, []string{
		"disabled", "inactive", "deactivated", "suspended", "account has been locked",
		"account is locked", "no longer active", "no longer valid", "closed", "discontinued",
		"not active", "account expired", "account has expired", "account is expired", "mailbox expired",
		"mailbox has expired",
	}},
	{SaysDisabledStrongly, []string{
		"recipient account is blocked", "recipient account isblocked", "compte du destinataire est bloque",
		"account is disabled", "account has been disabled", "mailbox is disabled", "mailbox disabled",
		"mailbox has been disabled", "account disabled", "is a deactivated mailbox", "mailbox currently suspended",
		"account is inactive", "email account that you tried to reach is inactive",
		"email account that you tried to reach is disabled",
	}},
	{SaysFull, []string{
		"quota", "mailbox full", "mailbox is full", "storage space", "out of storage", "insufficient storage",
		"storage allocation", "exceeded storage", "exceeds storage", "inbox is full", "mailbox size limit",
		"full mailbox", "mailfolder is full", "mailbox space not enough", "disk space limit", "mailbox exceeds",
		"too many messages on the server", "zuviele mails", "boite du destinataire pleine", "box is full",
		"user's mailbox is full", "over disk quota", "mailbox exceeds allowed size",
		"mailbox exceeded", "mailbox has exceeded", "over quota", "overquota",
		"容量", "満杯", "一杯", "いっぱい", "boîte pleine", "est pleine", "boite pleine", "buzón lleno", "está lleno",
		"esta lleno", "casella piena", "casella di posta piena", "caixa postal cheia", "caixa de correio cheia",
		"está cheia", "postfach voll", "postfach ist voll", "mailbox is vol", "mailbox vol", "postvak vol",
		"переполнен", "已满", "空间不足",
	}},
	{SaysBlocklist, []string{
		"spamhaus", "spamcop", "barracuda", "blocklist", "block list", "blacklist", "black list",
		"blacklisted", "denylist", "blocked using", "listed at", "listed on", "listed in", "rbl", "dnsbl", "sorbs",
		"uceprotect", "proofpoint", "mimecast", "cloudmark", "[bl", "blocked", "ironport", "uribl",
	}},
	{SaysAuth, []string{
		"spf", "dkim", "dmarc", "authentication", "unauthenticated", "not authenticated", "authenticate",
		"ptr record", "reverse dns", "rdns", "sender policy framework",
	}},
	{SaysReputation, []string{"reputation", "unsolicited"}},
	{SaysSpam, []string{"spam", "junk mail", "junkmail", "bulk mail", "bulk email", "mass mailer", "ube", "content filter"}},
	{SaysRate, []string{
		"too many", "rate limit", "rate limited", "ratelimit", "throttl", "exceeded the", "unusual rate",
		"receiving mail too quickly", "too quickly", "excessive volume", "unexpected volume", "has sent to too many",
	}},
	{SaysPolicy, []string{
		"policy", "not authorized", "not authorised", "unauthorized", "access denied", "denied access",
		"banned", "prohibited", "abuse", "client host", "your ip", "ip address", "not permitted",
		"rejected by", "refused", "not allowed to send", "not accepting mail from", "helo", "ehlo",
		"requires confirmation", "not pre approved", "sender block", "envelope blocked",
		"not accepting mail with attachments", "administrative prohibition", "permission to post",
	}},
	{SaysRelay, []string{
		"relay access denied", "relaying denied", "relay denied", "unable to relay", "relay not permitted",
		"as a relay", "relaying not allowed", "not a relay", "allowed rcpthosts", "we do not relay", "relaying",
	}},
	{SaysSender, []string{
		"sender address rejected", "sender verify", "sender verification", "sender domain", "sender rejected",
		"envelope sender", "return path", "from address", "mail from:<", "mail from command", "domain of sender",
		"sender address has null", "sender address", "verification failed for <",
	}},
	{SaysTLS, []string{"tls required", "must issue a starttls", "encryption required", "requires tls", "starttls"}},
	{SaysGreylist, []string{
		"greylist", "graylist", "grey list", "gray list", "postgrey", "sqlgrey",
		"not yet authorized to deliver", "internal resource temporarily unavailable",
	}},
	{SaysDNSTrouble, []string{
		"not found, try again", "malformed", "name server reply", "nameserver error", "servfail",
		"temporary failure in name resolution", "dns lookup timeout", "dns timeout", "lookup timed out",
		"dns lookup failed", "temporary failure looking up", "could not contact dns", "dns server returned",
	}},
	{SaysSize, []string{
		"too large", "too big", "size limit", "message size", "exceeds size", "exceeds the maximum",
		"maximum message size", "maximum inbound message size", "sizelimit", "message length exceeds",
		"exceeds maximum size", "exceeds maximum message", "message exceeds maximum",
	}},
	{SaysContent, []string{
		"content", "virus", "attachment", "message rejected", "header", "resent from",
	}},
	{SaysRecipientRejected, []string{"recipient address rejected"}},
	{SaysSyntax, []string{"syntax", "malformed address", "address format"}},
	{SaysExpired, []string{
		"message expired", "delivery time expired", "expired in queue", "been in the queue too long",
		"retry timeout exceeded", "retry time not reached", "message has expired",
	}},
}
