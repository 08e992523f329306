package classify

import (
	"net/textproto"
	"strings"
)

// autoReplyHeader returns the rule of the header field that marks a
// message as sent automatically, or "".
func autoReplyHeader(h textproto.MIMEHeader) string {
	// RFC 3834 §5.1: any value other than "no" means automatic.
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" {
		if tok := strings.TrimSpace(strings.SplitN(v, ";", 2)[0]); tok != "no" {
			return "auto:auto-submitted"
		}
	}
	if strings.TrimSpace(h.Get("X-Autoreply")) != "" {
		return "auto:x-autoreply"
	}
	if strings.TrimSpace(h.Get("X-Autorespond")) != "" || strings.TrimSpace(h.Get("X-Autoresponder")) != "" {
		return "auto:x-autorespond"
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "auto_reply", "bulk", "junk", "list":
		return "auto:precedence"
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("X-Apple-Action")), "vacation") {
		return "auto:x-apple-action"
	}
	// X-Auto-Response-Suppress is deliberately absent: it asks the
	// recipient not to answer automatically and Outlook sets it on
	// ordinary mail.
	return ""
}

// oooSubject is an out-of-office subject marker and its language. Strong
// markers count anywhere in the subject; the others, single words that a
// human subject may contain ("Absence policy"), only as the subject's first
// word followed by a colon, a dash or nothing.
type oooSubject struct {
	phrase, lang string
	strong       bool
}

var oooSubjects = []oooSubject{
	{"out of office", "en", true}, {"out of the office", "en", true}, {"automatic reply", "en", true},
	{"auto reply", "en", true}, {"auto-reply", "en", true}, {"autoreply", "en", true},
	{"auto response", "en", true}, {"auto-response", "en", true}, {"automatic response", "en", true},
	{"away from the office", "en", true}, {"away from office", "en", true}, {"vacation reply", "en", true},
	{"on vacation", "en", false}, {"on leave", "en", false}, {"ooo", "en", false}, {"away", "en", false},
	{"abwesenheitsnotiz", "de", true}, {"automatische antwort", "de", true}, {"abwesenheit", "de", true},
	{"nicht im büro", "de", true}, {"abwesend", "de", false}, {"urlaub", "de", false},
	{"réponse automatique", "fr", true}, {"reponse automatique", "fr", true}, {"absent du bureau", "fr", true},
	{"absente du bureau", "fr", true}, {"absence du bureau", "fr", true}, {"message d'absence", "fr", true},
	{"absence", "fr", false}, {"absent", "fr", false}, {"absente", "fr", false},
	{"respuesta automática", "es", true}, {"respuesta automatica", "es", true}, {"fuera de la oficina", "es", true},
	{"fuera de oficina", "es", true}, {"ausencia", "es", false}, {"de vacaciones", "es", false},
	{"resposta automática", "pt", true}, {"resposta automatica", "pt", true}, {"fora do escritório", "pt", true},
	{"ausente do escritório", "pt", true}, {"ausente", "pt", false}, {"de férias", "pt", false},
	{"automatisch antwoord", "nl", true}, {"afwezigheidsbericht", "nl", true}, {"niet aanwezig", "nl", true},
	{"buiten kantoor", "nl", true}, {"afwezig", "nl", false},
	{"risposta automatica", "it", true}, {"fuori ufficio", "it", true}, {"fuori sede", "it", true},
	{"assente", "it", false}, {"in ferie", "it", false},
	{"automatiskt svar", "sv", true}, {"frånvarande", "sv", true}, {"frånvaro", "sv", false},
	{"automatisk svar", "da", true}, {"fraværende", "da", true}, {"ikke på kontoret", "no", true},
	{"fravær", "no", false}, {"ferie", "da", false},
	{"automaattinen vastaus", "fi", true}, {"poissa toimistolta", "fi", true}, {"poissa", "fi", false},
	{"lomalla", "fi", false},
	{"autosvar", "nordic", true},
	{"自動返信", "ja", true}, {"自動応答", "ja", true}, {"不在通知", "ja", true}, {"不在のお知らせ", "ja", true},
	{"自动回复", "zh", true}, {"自動回覆", "zh", true}, {"自动答复", "zh", true}, {"自動回復", "zh", true},
	{"автоответ", "ru", true}, {"автоматический ответ", "ru", true}, {"нет на месте", "ru", true},
	{"вне офиса", "ru", true}, {"в отпуске", "ru", false}, {"отпуск", "ru", false},
	{"automatyczna odpowiedź", "pl", true}, {"automatyczna odpowiedz", "pl", true}, {"poza biurem", "pl", true},
	{"nieobecność", "pl", false}, {"urlop", "pl", false},
	{"automatická odpověď", "cs", true}, {"mimo kancelář", "cs", true},
	{"otomatik yanıt", "tr", true}, {"otomatik cevap", "tr", true}, {"ofis dışında", "tr", true},
	{"자동 응답", "ko", true}, {"자동응답", "ko", true}, {"부재중", "ko", true},
}

// autoReplySubject returns the language of an out-of-office subject, or "".
func autoReplySubject(subject string) string {
	s := strings.ToLower(strings.TrimSpace(subject))
	// "[EXTERNAL] Automatic reply: ..." and "Re: Abwesend" still count.
	for _, tag := range []string{"[external]", "[ext]", "[extern]", "external:", "*external*"} {
		s = strings.TrimSpace(strings.TrimPrefix(s, tag))
	}
	first := stripReplyPrefix(s)
	for _, o := range oooSubjects {
		if o.strong {
			if containsWord(s, o.phrase) {
				return o.lang
			}
			continue
		}
		if rest, ok := strings.CutPrefix(first, o.phrase); ok {
			rest = strings.TrimSpace(rest)
			if rest == "" || rest[0] == ':' || rest[0] == '-' || strings.HasPrefix(rest, "–") || rest[0] == '(' {
				return o.lang
			}
		}
	}
	return ""
}
