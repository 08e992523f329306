package classify

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// htmlText renders HTML as plain text for reading, not display: blocks
// become lines, scripts and styles vanish, and a reply's quoted history
// (blockquote, Gmail's gmail_quote, Outlook's divRplyFwdMsg, Yahoo's
// yahoo_quoted, Thunderbird's moz-cite-prefix) ends the text.
func htmlText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip, quote := 0, 0
	for b.Len() < 1<<20 {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return cleanLines(b.String())
		case html.TextToken:
			if skip == 0 && quote == 0 {
				b.WriteString(collapseSpace(string(z.Text())))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if (string(k) == "class" || string(k) == "id") && quoteContainer(strings.ToLower(string(v))) {
					return cleanLines(b.String())
				}
			}
			switch tag {
			case "script", "style", "head", "title":
				if tt == html.StartTagToken {
					skip++
				}
			case "body":
				skip = 0
			case "blockquote":
				if tt == html.StartTagToken {
					quote++
				}
			case "br", "p", "div", "tr", "li", "table", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "pre":
				b.WriteByte('\n')
			case "td", "th":
				b.WriteByte(' ')
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "head", "title":
				if skip > 0 {
					skip--
				}
			case "blockquote":
				if quote > 0 {
					quote--
				}
			case "p", "div", "tr", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6", "pre":
				b.WriteByte('\n')
			}
		}
	}
	return cleanLines(b.String())
}

func quoteContainer(v string) bool {
	for _, m := range []string{"gmail_quote", "yahoo_quoted", "moz-cite-prefix", "divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container", "protonmail_quote", "zmail_extra"} {
		if strings.Contains(v, m) {
			return true
		}
	}
	return false
}

func collapseSpace(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || r == '\u00a0' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		if space && b.Len() == 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// cleanLines trims lines and keeps at most one blank line in a row.
func cleanLines(s string) string {
	var out []string
	blank := true
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(strings.ReplaceAll(l, "\u00a0", " "))
		if l == "" {
			if !blank {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

var (
	// An attribution line ends with the verb and a colon: Gmail "On Mon, 2
	// Mar 2026 at 10:00, Jane <j@example.com> wrote:", Apple Mail, Outlook
	// for Mac, Thunderbird, in the languages of the rules.
	reAttribution = regexp.MustCompile(`(?i)\b(wrote|writes|schrieb|a écrit|a ecrit|escribió|escribio|escreveu|schreef|ha scritto|skrev|kirjoitti|napisał|napisal)\s*:\s*$`)
	reAttrOpener  = regexp.MustCompile(`(?i)^(on|am|le|el|em|op|il|den|på|pe)\s`)
	reSeparator   = regexp.MustCompile(`(?i)^[-=_*\s]{3,}.*(original message|original-nachricht|ursprüngliche nachricht|message d'origine|mensaje original|mensagem original|oorspronkelijk bericht|messaggio originale|originalmeddelande|opprinnelig melding|oprindelig meddelelse|alkuperäinen viesti|forwarded message|weitergeleitete nachricht)`)
	reUnderline   = regexp.MustCompile(`^_{10,}\s*$`)
	reHeaderFrom  = regexp.MustCompile(`(?i)^\*?(from|von|de|van|da|från|fra|lähettäjä|od|expéditeur)\s*:`)
	reHeaderNext  = regexp.MustCompile(`(?i)^\*?(sent|date|gesendet|datum|envoyé|envoye|enviado|fecha|data|verzonden|inviato|skickat|sendt|lähetetty|to|an|à|a|para|aan|till|til|cc|subject|betreff|objet|asunto|assunto|onderwerp|oggetto|ämne|emne)\s*:`)
	reSignature   = regexp.MustCompile(`(?i)^(--|—|sent from my|sent from outlook|sent from mail for|get outlook for|von meinem .*gesendet|envoyé de mon|envoyé depuis|enviado desde mi|enviado do meu|verzonden vanaf mijn|verstuurd vanaf mijn|inviato da|skickat från min|sendt fra min|lähetetty )`)
)

// newText returns what the author of a reply wrote: the text before the
// quoted history and the signature, without "> " lines.
func newText(text string) string {
	// What the author wrote comes first; past this nothing the rules read
	// (snippet, a 40-word request, a return date) is found.
	const maxScan = 64 << 10
	if len(text) > maxScan {
		text = strings.ToValidUTF8(text[:maxScan], "")
	}
	lines := strings.Split(text, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, ">") {
			continue
		}
		if endsReply(l, lines[i+1:]) {
			break
		}
		out = append(out, l)
	}
	return cleanLines(strings.Join(out, "\n"))
}

func endsReply(l string, next []string) bool {
	if l == "" {
		return false
	}
	if len(l) < 400 && reAttribution.MatchString(l) {
		return true
	}
	if reAttrOpener.MatchString(l) && len(next) > 0 {
		// Gmail wraps a long attribution after the address.
		if j := strings.TrimSpace(next[0]); j != "" && len(l)+len(j) < 400 && reAttribution.MatchString(l+" "+j) {
			return true
		}
	}
	if reSeparator.MatchString(l) || reUnderline.MatchString(l) || reSignature.MatchString(l) {
		return true
	}
	if reHeaderFrom.MatchString(l) {
		// Outlook's header block: From: then Sent:/Date:/To: within a few
		// lines.
		seen := 0
		for _, n := range next {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if reHeaderNext.MatchString(n) {
				return true
			}
			if seen++; seen >= 3 {
				break
			}
		}
	}
	return false
}

// snippet is the first ~200 characters of text, whitespace collapsed, cut
// at a word boundary.
func snippet(text string) string {
	s := strings.TrimSpace(collapseSpace(text))
	const max = 200
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	cut, n := 0, 0
	for i := range s {
		if n == max {
			cut = i
			break
		}
		n++
	}
	if sp := strings.LastIndexByte(s[:cut], ' '); sp > max/2 {
		cut = sp
	}
	return strings.TrimSpace(s[:cut])
}

// unsubscribePhrases ask to stop receiving mail. They are matched on word
// boundaries in lowercased text.
var unsubscribePhrases = []string{
	// English
	"unsubscribe", "unsubscribe me", "remove me", "remove us", "remove my email", "remove my address",
	"please remove", "take me off", "take us off", "stop emailing", "stop e-mailing", "stop sending",
	"stop contacting", "stop mailing", "stop messaging", "do not contact me", "don't contact me", "do not email",
	"don't email", "do not e-mail", "opt me out", "opt out", "opt-out", "no more emails", "leave me alone",
	// German
	"abmelden", "abmeldung", "austragen", "tragen sie mich aus", "abbestellen", "entfernen sie mich",
	"entfernen sie meine", "keine weiteren e-mails", "keine weiteren mails", "keine e-mails mehr",
	"keine mails mehr", "nicht mehr kontaktieren", "nicht mehr anschreiben", "löschen sie meine",
	// French
	"désabonner", "desabonner", "désabonnez", "désinscrire", "desinscrire", "désinscrivez", "désinscription",
	"désabonnement", "retirez-moi", "retirez moi", "ne plus recevoir", "ne plus me contacter",
	"arrêtez de m'envoyer", "supprimez mon adresse",
	// Spanish
	"darme de baja", "dar de baja", "denme de baja", "deme de baja", "dadme de baja", "no me escriban",
	"no me escriba", "no me contacten", "elimíneme", "eliminarme de", "quitarme de", "sacarme de",
	"no deseo recibir", "no quiero recibir",
	// Portuguese
	"descadastrar", "descadastre", "remova-me", "me remova", "remover meu", "remova meu", "cancelar inscrição",
	"cancelar a inscrição", "não quero receber", "parem de enviar", "pare de enviar",
	// Dutch
	"afmelden", "uitschrijven", "schrijf mij uit", "schrijf me uit", "verwijder mij", "verwijder me",
	"geen e-mails meer", "geen mails meer",
	// Italian
	"disiscrivi", "disiscrivermi", "disiscrizione", "cancellami", "cancellatemi", "rimuovimi", "rimuovetemi",
	"rimuovere il mio", "non voglio ricevere", "non inviatemi",
	// Swedish, Danish, Norwegian, Finnish
	"avregistrera", "avsluta prenumeration", "ta bort mig", "sluta skicka", "afmeld", "frameld", "fjern mig",
	"fjern meg", "avmeld", "meld meg av", "slutt å sende", "poista minut", "peruuta tilaus",
}

// maxUnsubscribeWords is how long a reply may be and still be read as a
// request to unsubscribe: past it, the word is more likely a mention.
const maxUnsubscribeWords = 40

func asksUnsubscribe(text string) bool {
	t := strings.ToLower(strings.ReplaceAll(text, "’", "'"))
	for _, p := range unsubscribePhrases {
		if containsWord(t, p) {
			return true
		}
	}
	return false
}

// containsWord reports whether phrase occurs in s with no letter or digit
// on either side.
func containsWord(s, phrase string) bool {
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], phrase)
		if i < 0 {
			return false
		}
		i += off
		j := i + len(phrase)
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[j:])
		if (i == 0 || !isWordRune(before)) && (j == len(s) || !isWordRune(after)) {
			return true
		}
		off = i + 1
	}
	return false
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// reReplyPrefix strips the reply and forward prefixes of many languages
// from a subject.
var reReplyPrefix = regexp.MustCompile(`(?i)^\s*((re|aw|sv|vs|antw|antwort|ref|rif|res|r|wg|fw|fwd|tr|enc|odp)\s*(\[\d+\])?\s*:\s*)+`)

func stripReplyPrefix(s string) string {
	return strings.TrimSpace(reReplyPrefix.ReplaceAllString(s, ""))
}
