package classify

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Month and weekday names of the languages the auto-reply rule knows,
// lowercased. Where languages share a spelling they agree on its meaning.
var monthNames = map[string]time.Month{}

func init() {
	add := func(m time.Month, names ...string) {
		for _, n := range names {
			monthNames[n] = m
		}
	}
	add(time.January, "january", "jan", "januar", "jänner", "janvier", "janv", "enero", "ene", "janeiro", "januari", "gennaio", "tammikuuta", "tammikuu")
	add(time.February, "february", "feb", "februar", "février", "fevrier", "févr", "fevr", "febrero", "fevereiro", "fev", "februari", "febbraio", "helmikuuta", "helmikuu")
	add(time.March, "march", "mar", "märz", "maerz", "mrz", "mars", "marzo", "março", "marco", "maart", "mrt", "marts", "maaliskuuta", "maaliskuu")
	add(time.April, "april", "apr", "avril", "avr", "abril", "abr", "aprile", "huhtikuuta", "huhtikuu")
	add(time.May, "may", "mai", "mayo", "maio", "mei", "maggio", "maj", "toukokuuta", "toukokuu")
	add(time.June, "june", "jun", "juni", "juin", "junio", "junho", "giugno", "giu", "kesäkuuta", "kesäkuu")
	add(time.July, "july", "jul", "juli", "juillet", "juil", "julio", "julho", "luglio", "lug", "heinäkuuta", "heinäkuu")
	add(time.August, "august", "aug", "août", "aout", "agosto", "augustus", "augusti", "elokuuta", "elokuu")
	add(time.September, "september", "sep", "sept", "septembre", "septiembre", "setiembre", "setembro", "settembre", "syyskuuta", "syyskuu")
	add(time.October, "october", "oct", "oktober", "okt", "octobre", "octubre", "outubro", "ottobre", "ott", "lokakuuta", "lokakuu")
	add(time.November, "november", "nov", "novembre", "noviembre", "novembro", "marraskuuta", "marraskuu")
	add(time.December, "december", "dec", "dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic", "dezembro", "dicembre", "joulukuuta", "joulukuu")
	for name, d := range map[string]time.Weekday{
		"monday": time.Monday, "montag": time.Monday, "lundi": time.Monday, "lunes": time.Monday, "segunda": time.Monday, "segunda-feira": time.Monday, "maandag": time.Monday, "lunedì": time.Monday, "lunedi": time.Monday, "måndag": time.Monday, "mandag": time.Monday, "maanantai": time.Monday, "maanantaina": time.Monday,
		"tuesday": time.Tuesday, "dienstag": time.Tuesday, "mardi": time.Tuesday, "martes": time.Tuesday, "terça": time.Tuesday, "terça-feira": time.Tuesday, "dinsdag": time.Tuesday, "martedì": time.Tuesday, "martedi": time.Tuesday, "tisdag": time.Tuesday, "tirsdag": time.Tuesday, "tiistai": time.Tuesday, "tiistaina": time.Tuesday,
		"wednesday": time.Wednesday, "mittwoch": time.Wednesday, "mercredi": time.Wednesday, "miércoles": time.Wednesday, "miercoles": time.Wednesday, "quarta": time.Wednesday, "quarta-feira": time.Wednesday, "woensdag": time.Wednesday, "mercoledì": time.Wednesday, "mercoledi": time.Wednesday, "onsdag": time.Wednesday, "keskiviikko": time.Wednesday, "keskiviikkona": time.Wednesday,
		"thursday": time.Thursday, "donnerstag": time.Thursday, "jeudi": time.Thursday, "jueves": time.Thursday, "quinta": time.Thursday, "quinta-feira": time.Thursday, "donderdag": time.Thursday, "giovedì": time.Thursday, "giovedi": time.Thursday, "torsdag": time.Thursday, "torstai": time.Thursday, "torstaina": time.Thursday,
		"friday": time.Friday, "freitag": time.Friday, "vendredi": time.Friday, "viernes": time.Friday, "sexta": time.Friday, "sexta-feira": time.Friday, "vrijdag": time.Friday, "venerdì": time.Friday, "venerdi": time.Friday, "fredag": time.Friday, "perjantai": time.Friday, "perjantaina": time.Friday,
	} {
		weekdayNames[name] = d
	}
	months := make([]string, 0, len(monthNames))
	for n := range monthNames {
		months = append(months, regexp.QuoteMeta(n))
	}
	days := make([]string, 0, len(weekdayNames))
	for n := range weekdayNames {
		days = append(days, regexp.QuoteMeta(n))
	}
	// Longest first, so that "march" wins over "mar".
	byLen := func(s []string) {
		sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) || len(s[i]) == len(s[j]) && s[i] < s[j] })
	}
	byLen(months)
	byLen(days)
	const lb, rb = `(?:^|[^\p{L}\p{N}])`, `(?:$|[^\p{L}\p{N}])`
	m := `(` + strings.Join(months, "|") + `)`
	reDayMonth = regexp.MustCompile(lb + `(\d{1,2})(?:st|nd|rd|th|er|re|e|º|°|\.)?\s*(?:de\s+|of\s+|-)?` + m + `\.?(?:,?\s*(?:de\s+|del\s+)?(\d{4}))?` + rb)
	reMonthDay = regexp.MustCompile(lb + m + `\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?` + rb)
	reWeekday = regexp.MustCompile(lb + `(` + strings.Join(days, "|") + `)` + rb)
	reISO = regexp.MustCompile(lb + `(\d{4})-(\d{1,2})-(\d{1,2})` + rb)
	reDotted = regexp.MustCompile(lb + `(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})?` + `(?:$|[^\d])`)
	reSlash = regexp.MustCompile(lb + `(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?` + rb)
	reRelative = regexp.MustCompile(lb + `(tomorrow|morgen|demain|mañana|amanhã|domani|imorgon|huomenna)` + rb)
}

var (
	weekdayNames = map[string]time.Weekday{}
	reDayMonth   *regexp.Regexp
	reMonthDay   *regexp.Regexp
	reWeekday    *regexp.Regexp
	reISO        *regexp.Regexp
	reDotted     *regexp.Regexp
	reSlash      *regexp.Regexp
	reRelative   *regexp.Regexp
)

// Words that, just before a date, say it is the return day or the last day
// away. Matched as whole words of the lowercased text.
var (
	returnWords = wordSet("back", "return", "returning", "returns", "resume", "resuming", "available", "zurück", "zurueck", "retour", "rentre", "rentrerai",
		"reviens", "reviendrai", "regreso", "regresaré", "regresare", "regresa", "vuelta", "vuelvo", "volveré", "volvere", "reincorporo",
		"retorno", "retornarei", "regresso", "volto", "voltarei", "terug", "rientro", "rientrerò", "rientrero", "ritorno", "tornerò",
		"tornero", "torno", "tillbaka", "åter", "tilbage", "tilbake", "takaisin", "palaan")
	// Return words that follow the date: "ab dem 4.3. wieder erreichbar",
	// "vanaf 4 maart weer aanwezig".
	returnAfterWords = wordSet("wieder", "weer", "back", "terug", "retour", "tillbaka", "tilbage", "tilbake", "takaisin", "zurück")
	untilWords       = wordSet("until", "till", "til", "through", "thru", "to", "bis", "jusqu", "jusqu'au", "jusqu'à", "hasta", "até", "tot",
		"fino", "al", "indtil", "tom", "t.o.m", "inklusive", "einschließlich", "asti")
	inclusiveMarks = []string{"through", "thru", "inclusive", "including", "einschließlich", "einschl", "inklusive", "inkl.", "inclus",
		"incluido", "incluso", "compreso", "t/m", "tot en met", "till och med", "t.o.m", "til og med", "to og med"}
)

func wordSet(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '.' })
}

func hasWord(s string, set map[string]bool) bool {
	for _, w := range words(s) {
		if set[strings.Trim(w, ".'")] || set[w] {
			return true
		}
	}
	return false
}

// dateHit is one date expression found in the text.
type dateHit struct {
	start, end int
	y, d       int // y 0 when not stated
	m          time.Month
	alt        *dateHit      // the other reading of an ambiguous slash date
	weekday    *time.Weekday // a weekday alone
	relative   int           // days after the reference ("tomorrow"), when > 0
}

// returnDate finds the day an auto-reply says its author is back; see the
// package comment for the rules.
func returnDate(text string, ref time.Time, hasRef bool) *time.Time {
	// People state the return day near the top; the cap keeps a huge
	// auto-reply from costing the date patterns' full price.
	const maxScan = 8 << 10
	if len(text) > maxScan {
		text = strings.ToValidUTF8(text[:maxScan], "")
	}
	t := strings.ToLower(text)
	var hits []dateHit
	add := func(re *regexp.Regexp, f func(m []string) []dateHit) {
		for _, ix := range re.FindAllStringSubmatchIndex(t, -1) {
			m := make([]string, len(ix)/2)
			for i := range m {
				if ix[2*i] >= 0 {
					m[i] = t[ix[2*i]:ix[2*i+1]]
				}
			}
			for _, h := range f(m) {
				h.start, h.end = ix[2], ix[3]
				for k := 2; k < len(ix)/2; k++ {
					h.end = max(h.end, ix[2*k+1])
				}
				hits = append(hits, h)
			}
		}
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	year := func(s string) int {
		y := atoi(s)
		if y > 0 && y < 100 {
			y += 2000
		}
		return y
	}
	add(reISO, func(m []string) []dateHit {
		return []dateHit{{y: atoi(m[1]), m: time.Month(atoi(m[2])), d: atoi(m[3])}}
	})
	add(reDayMonth, func(m []string) []dateHit {
		return []dateHit{{y: year(m[3]), m: monthNames[m[2]], d: atoi(m[1])}}
	})
	add(reMonthDay, func(m []string) []dateHit {
		return []dateHit{{y: year(m[3]), m: monthNames[m[1]], d: atoi(m[2])}}
	})
	add(reDotted, func(m []string) []dateHit {
		// Dotted dates are day first everywhere they are written.
		return []dateHit{{y: year(m[3]), m: time.Month(atoi(m[2])), d: atoi(m[1])}}
	})
	add(reSlash, func(m []string) []dateHit {
		a, b, y := atoi(m[1]), atoi(m[2]), year(m[3])
		dm := dateHit{y: y, m: time.Month(b), d: a}
		md := dateHit{y: y, m: time.Month(a), d: b}
		switch {
		case a > 12:
			return []dateHit{dm}
		case b > 12:
			return []dateHit{md}
		case a == b:
			return []dateHit{dm}
		}
		dm.alt = &md
		return []dateHit{dm}
	})
	add(reWeekday, func(m []string) []dateHit {
		wd := weekdayNames[m[1]]
		return []dateHit{{weekday: &wd}}
	})
	add(reRelative, func(m []string) []dateHit { return []dateHit{{relative: 1}} })

	// Keep the first of overlapping hits, preferring the longer one, so
	// that "Monday 3 March" is one date, not a weekday and a date.
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].start != hits[j].start {
			return hits[i].start < hits[j].start
		}
		return hits[i].end-hits[i].start > hits[j].end-hits[j].start
	})
	var kept []dateHit
	for _, h := range hits {
		if n := len(kept); n > 0 && h.start < kept[n-1].end {
			continue
		}
		kept = append(kept, h)
	}
	// A weekday right before a date names the same day.
	var dated []dateHit
	for i, h := range kept {
		if h.weekday != nil && i+1 < len(kept) && kept[i+1].weekday == nil && kept[i+1].relative == 0 &&
			kept[i+1].start-h.end < 8 {
			continue
		}
		dated = append(dated, h)
	}

	refDay := time.Date(ref.Year(), ref.Month(), ref.Day(), 0, 0, 0, 0, ref.Location())
	type cand struct {
		day  time.Time
		prio int
		pos  int
	}
	var cands []cand
	prevEnd := 0
	for i, h := range dated {
		from := max(prevEnd, h.start-60)
		before := t[from:h.start]
		to := len(t)
		if i+1 < len(dated) {
			to = dated[i+1].start
		}
		after := t[h.end:min(to, h.end+40)]
		prevEnd = h.end
		prio := 0
		switch {
		case hasWord(before, returnWords):
			prio = 2
		case hasWord(before, untilWords), hasWord(after, wordSet("asti")):
			prio = 1
		case hasWord(after, returnAfterWords):
			prio = 2
		}
		day, ok := resolve(h, refDay, hasRef)
		if !ok || (h.weekday != nil || h.relative > 0) && prio == 0 {
			continue
		}
		if prio == 1 {
			near := before[max(0, len(before)-25):] + " " + after[:min(len(after), 15)]
			for _, w := range inclusiveMarks {
				if strings.Contains(near, w) {
					day = day.AddDate(0, 0, 1)
					break
				}
			}
		}
		cands = append(cands, cand{day, prio, h.start})
	}
	if len(cands) == 0 {
		return nil
	}
	best := cands[0]
	for _, c := range cands[1:] {
		switch {
		case c.prio > best.prio:
			best = c
		case c.prio == best.prio && c.prio == 0 && c.day.After(best.day):
			best = c // no keyword: the end of the absence is the latest date
		}
	}
	return &best.day
}

// resolve turns a hit into a day on or after the reference day.
func resolve(h dateHit, refDay time.Time, hasRef bool) (time.Time, bool) {
	loc := refDay.Location()
	switch {
	case h.relative > 0:
		return refDay.AddDate(0, 0, h.relative), hasRef
	case h.weekday != nil:
		n := (int(*h.weekday) - int(refDay.Weekday()) + 7) % 7
		if n == 0 {
			n = 7
		}
		return refDay.AddDate(0, 0, n), hasRef
	}
	one := func(h dateHit) (time.Time, bool) {
		if h.m < 1 || h.m > 12 || h.d < 1 || h.d > 31 {
			return time.Time{}, false
		}
		if h.y == 0 {
			if !hasRef {
				return time.Time{}, false
			}
			d := time.Date(refDay.Year(), h.m, h.d, 0, 0, 0, 0, loc)
			if d.Day() != h.d {
				return time.Time{}, false
			}
			if d.Before(refDay) {
				d = d.AddDate(1, 0, 0)
			}
			return d, true
		}
		if h.y < 1970 || h.y > 2200 {
			return time.Time{}, false
		}
		d := time.Date(h.y, h.m, h.d, 0, 0, 0, 0, loc)
		if d.Day() != h.d {
			return time.Time{}, false
		}
		if hasRef && (d.Before(refDay) || d.After(refDay.AddDate(1, 0, 1))) {
			return time.Time{}, false
		}
		return d, true
	}
	d, ok := one(h)
	if h.alt != nil {
		if d2, ok2 := one(*h.alt); ok2 && (!ok || d2.Before(d)) {
			return d2, true
		}
	}
	return d, ok
}
