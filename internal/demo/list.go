package demo

import (
	"encoding/csv"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/touchline/touchline/internal/mailsim"
)

var firstNames = []string{
	"james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "david", "elizabeth",
	"william", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah", "charles", "karen",
	"christopher", "lisa", "daniel", "nancy", "matthew", "betty", "anthony", "sandra", "mark", "margaret",
	"priya", "wei", "fatima", "lars", "sofia", "mateo", "aisha", "kenji", "olga", "tomas",
	"ingrid", "ravi", "chloe", "omar", "hannah", "lucas", "mia", "noah", "emma", "liam",
}

var lastNames = []string{
	"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez", "martinez",
	"hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson", "martin",
	"lee", "perez", "thompson", "white", "harris", "sanchez", "clark", "ramirez", "lewis", "robinson",
	"patel", "chen", "khan", "nielsen", "rossi", "silva", "okafor", "tanaka", "ivanova", "novak",
	"berg", "sharma", "dubois", "haddad", "schmidt", "costa", "larsen", "murphy", "kowalski", "nguyen",
}

var titles = []string{
	"VP of Sales", "Head of Revenue Operations", "Director of Marketing", "CTO", "IT Manager",
	"Procurement Lead", "Operations Manager", "Chief Financial Officer", "Head of Growth",
	"Sales Development Manager", "Founder & CEO", "Director of Engineering",
}

type person struct {
	first, last, title, local string
	exists                    bool
	status, reason            string
}

// people returns the prospects generated at a company, the same every time.
func people(c company) []person {
	h := fnv.New64a()
	h.Write([]byte(c.domain))
	rng := rand.New(rand.NewPCG(h.Sum64(), 7))
	seen := map[string]bool{}
	var out []person
	for len(out) < c.people {
		f, l := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		local := f + "." + l
		switch rng.IntN(4) {
		case 0:
			local = f[:1] + l
		case 1:
			local = f
		}
		if seen[local] {
			continue
		}
		seen[local] = true
		p := person{first: f, last: l, title: titles[rng.IntN(len(titles))], local: local, exists: true,
			status: c.okStatus, reason: c.okReason}
		if len(out) < c.missing {
			// Left the company: the mailbox is gone.
			p.exists, p.status, p.reason = false, c.goneStatus, c.goneReason
		}
		out = append(out, p)
	}
	// Interleave gone and present people, as in a real export.
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func mbox(m mailsim.Mailbox) *mailsim.Mailbox { return &m }

// special is a hand-written row that shows one rule of the verifier.
type special struct {
	first, last, company, title, notes string
	email                              string // as it appears in the list
	domain, local                      string // mailbox to create, if mailbox is set
	mailbox                            *mailsim.Mailbox
	status, reason                     string
}

var specials = []special{
	{first: "Info", company: "Northwind Traders", email: "info@northwind.test", domain: "northwind.test", local: "info", mailbox: mbox(mailsim.Exists),
		status: "deliverable", reason: "accepted", notes: "role account"},
	{first: "Sales", company: "Contoso Ltd", email: "sales@contoso.test", domain: "contoso.test", local: "sales", mailbox: mbox(mailsim.Exists),
		status: "deliverable", reason: "accepted", notes: "role account"},
	{first: "Kim", last: "Lee", company: "Northwind Traders", email: "  Kim.Lee@Northwind.TEST ", domain: "northwind.test", local: "kim.lee", mailbox: mbox(mailsim.Exists),
		status: "deliverable", reason: "accepted", notes: "spaces and capitals are normalized"},
	{first: "Dana", last: "Ross", company: "Contoso Ltd", email: "Dana Ross <dana.ross@contoso.test>", domain: "contoso.test", local: "dana.ross", mailbox: mbox(mailsim.Exists),
		status: "deliverable", reason: "accepted", notes: "display-name form"},
	{first: "Eve", last: "Stone", company: "Fabrikam Inc", email: "mailto:eve.stone@fabrikam.test", domain: "fabrikam.test", local: "eve.stone", mailbox: mbox(mailsim.Exists),
		status: "deliverable", reason: "accepted", notes: "mailto: link pasted from a web page"},
	{first: "Paul", last: "Grant", company: "Gmail", email: "paul.grant.1987@gmail.com", domain: "gmail.com", local: "paul.grant.1987", mailbox: mbox(mailsim.Disabled),
		status: "undeliverable", reason: "mailbox_disabled", notes: "account disabled"},
	{first: "Rita", last: "Moss", company: "Gmail", email: "rita.moss@gmail.com", domain: "gmail.com", local: "rita.moss", mailbox: mbox(mailsim.Full),
		status: "risky", reason: "mailbox_full", notes: "over quota"},
	{first: "Ian", last: "Ford", company: "Northwind Traders", email: "ian.ford@northwind.test", domain: "northwind.test", local: "ian.ford", mailbox: mbox(mailsim.Full),
		status: "risky", reason: "mailbox_full", notes: "over quota"},
	{first: "Jürgen", last: "Weber", company: "Müller Bau", email: "jürgen.weber@müller-bau.test", domain: "müller-bau.test", local: "jürgen.weber", mailbox: mbox(mailsim.Exists),
		status: "deliverable", reason: "accepted", notes: "UTF-8 mailbox at an SMTPUTF8 server"},
	{first: "Anna", last: "Krause", company: "Müller Bau", email: "anna.krause@müller-bau.test", domain: "müller-bau.test", local: "anna.krause", mailbox: mbox(mailsim.Exists),
		status: "deliverable", reason: "accepted", notes: "IDN domain"},
	{first: "José", last: "Álvarez", company: "Legacy Mail", email: "josé@legacy-mail.test", domain: "legacy-mail.test", local: "josé", mailbox: mbox(mailsim.Exists),
		status: "undeliverable", reason: "smtputf8_unsupported", notes: "UTF-8 mailbox, server without SMTPUTF8"},
	{first: "Tom", last: "Baker", company: "Legacy Mail", email: "tom.baker@legacy-mail.test", domain: "legacy-mail.test", local: "tom.baker", mailbox: mbox(mailsim.Exists),
		status: "deliverable", reason: "accepted"},
	{first: "Ned", last: "Parks", company: "Parked Domain", email: "ned@parked-domain.test",
		status: "undeliverable", reason: "no_mail_server", notes: "neither MX nor address record"},
	{first: "John", last: "Doe", company: "Northwind Traders", email: "john.doe@",
		status: "undeliverable", reason: "syntax", notes: "domain missing"},
	{first: "Mary", last: "Smith", company: "Northwind Traders", email: "mary..smith@northwind.test",
		status: "undeliverable", reason: "syntax", notes: "double dot"},
	{first: "Alice", last: "Wong", company: "Contoso Ltd", email: "alice.wong@contoso",
		status: "undeliverable", reason: "syntax", notes: "no top-level domain"},
	{first: "Bob", last: "Stone", company: "Initech", email: "bob stone@initech.test",
		status: "undeliverable", reason: "syntax", notes: "space in local part"},
	{first: "Carl", last: "Mead", company: "Hooli", email: "carl.mead@hooli..test",
		status: "undeliverable", reason: "syntax", notes: "empty domain label"},
	{first: "Gail", last: "Hart", company: "Fabrikam Inc", email: "", status: "undeliverable", reason: "syntax", notes: "no email given"},
	{first: "Vera", last: "Quinn", company: "Northwind Traders", email: "vera.quinn@northwind.test", domain: "northwind.test", local: "vera.quinn", mailbox: mbox(mailsim.Exists),
		status: "deliverable", reason: "accepted", notes: `=HYPERLINK("http://example.invalid","click me")`},
	{first: "Lena", last: "Fox", company: "Throwaway", email: "lena.fox@sharklasers.com",
		status: "undeliverable", reason: "no_mail_server", notes: "disposable provider whose domain does not resolve here"},
}

func init() {
	// Every special row with a mailbox belongs to one of the world's
	// domains; the IDN ones are keyed by their A-label in the world.
	extra := []company{
		{name: "Müller Bau", domain: "xn--mller-bau-q9a.test",
			build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
				h := host("mx.xn--mller-bau-q9a.test", "postfix", true)
				h.SMTPUTF8 = true
				*hosts = append(*hosts, h)
				d.MX = []mailsim.MX{{Pref: 10, Host: h.Name}}
			}},
		{name: "Legacy Mail", domain: "legacy-mail.test", build: single("mail.legacy-mail.test", "exim", false)},
		{name: "Parked Domain", domain: "parked-domain.test",
			build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
				d.Records = []string{`@ IN TXT "v=spf1 -all"`}
			}},
	}
	companies = append(companies, extra...)
	for i := range specials {
		if specials[i].domain == "müller-bau.test" {
			specials[i].domain = "xn--mller-bau-q9a.test"
		}
	}
}

// Header is the sample list's header row.
var Header = []string{"first_name", "last_name", "email", "company", "title", "notes"}

// WriteList writes the sample prospect list and, to answers, the verdict
// each row must get (row number, email, status, reason).
func WriteList(list, answers io.Writer) error {
	lw, aw := csv.NewWriter(list), csv.NewWriter(answers)
	lw.Write(Header)
	aw.Write([]string{"row", "email", "status", "reason"})
	type row struct {
		rec            []string
		status, reason string
	}
	var rows []row
	for _, c := range companies {
		for _, p := range people(c) {
			if c.okStatus == "" {
				continue
			}
			rows = append(rows, row{
				rec:    []string{titleCase(p.first), titleCase(p.last), p.local + "@" + c.domain, c.name, p.title, ""},
				status: p.status, reason: p.reason,
			})
		}
	}
	for _, s := range specials {
		rows = append(rows, row{rec: []string{s.first, s.last, s.email, s.company, s.title, s.notes}, status: s.status, reason: s.reason})
	}
	// A fixed shuffle: lists arrive in no particular order, and the
	// verifier must keep whatever order it gets.
	rng := rand.New(rand.NewPCG(2026, 11))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	for i, r := range rows {
		lw.Write(r.rec)
		aw.Write([]string{strconv.Itoa(i + 1), r.rec[2], r.status, r.reason})
	}
	// A ragged row, as spreadsheets export when a cell run is cut short:
	// it must get a verdict of its own and not stop the run.
	lw.Write([]string{"Zed", "Row"})
	aw.Write([]string{strconv.Itoa(len(rows) + 1), "", "undeliverable", "syntax"})
	lw.Flush()
	aw.Flush()
	if err := lw.Error(); err != nil {
		return err
	}
	return aw.Error()
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
