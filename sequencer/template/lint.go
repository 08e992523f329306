package template

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Warning is advice about a cadence step that may still be sent as written.
type Warning struct {
	Code    string // one of the Code constants, stable for UIs and tests
	Message string // for the rep, with the measured value and the threshold
}

// Warning codes, in the order Lint reports them.
const (
	CodeSubjectTooLong    = "subject_too_long"
	CodeSubjectAllCaps    = "subject_all_caps"
	CodeBodyTooLong       = "body_too_long"
	CodeTooManyLinks      = "too_many_links"
	CodeNoPersonalization = "no_personalization"
	CodeSpamWords         = "spam_words"
)

// Thresholds of the lint checks.
const (
	MaxSubjectChars = 60  // longer subjects are cut off in phone inboxes
	MaxBodyWords    = 120 // cold emails longer than this get fewer replies
	MaxLinks        = 2   // more links reads as marketing to people and filters
)

// spamPhrases are classic spam-filter triggers. The list is short on purpose:
// it flags phrases no cold email needs, not every word a filter might weigh.
// Matching ignores case and collapses whitespace, and a phrase must not be
// part of a longer word ("act now" does not match "contact now").
var spamPhrases = []string{"free!!!", "act now", "100% guaranteed", "risk-free", "click here"}

// linkRE matches a URL as written in an email: http(s):// or a bare www.
// host. "https://www.x" is one link, since the first alternative consumes it.
var linkRE = regexp.MustCompile(`(?i)https?://\S+|\bwww\.\S+`)

// placeholder stands for a field in the text Lint examines, so that a field
// counts as one word and its name is not read as text.
const placeholder = "\uFFFC"

// Lint checks a step's subject and body. subjectT and bodyT are their parsed
// templates; either may be nil (say, while the rep is still fixing a parse
// error), in which case Lint reads the text itself, accepting any field name.
// The checks, each reported at most once in the order of the Code constants:
//
//   - subject_too_long: the subject, as written and trimmed, has more than
//     MaxSubjectChars characters.
//   - subject_all_caps: the subject's own text (fields excluded) has at least
//     4 cased letters and none of them is lowercase.
//   - body_too_long: the body has more than MaxBodyWords words, a field
//     counting as one word and a token without letters or digits ("—") as
//     none.
//   - too_many_links: the body's text has more than MaxLinks URLs.
//   - no_personalization: neither subject nor body references a lead field;
//     sender_* fields do not count, custom.* fields do.
//   - spam_words: the subject or body text contains a phrase of spamPhrases.
//
// Text checks read the template's own text, not the fallbacks, which only
// render for some leads.
func Lint(subject, body string, subjectT, bodyT *Template) []Warning {
	subjectT, bodyT = lintView(subject, subjectT), lintView(body, bodyT)
	subjectText, bodyText := skeleton(subjectT), skeleton(bodyT)
	var ws []Warning
	add := func(code, format string, args ...any) {
		ws = append(ws, Warning{Code: code, Message: fmt.Sprintf(format, args...)})
	}

	if n := utf8.RuneCountInString(strings.TrimSpace(subjectT.src)); n > MaxSubjectChars {
		add(CodeSubjectTooLong, "subject has %d characters; phones cut subjects off after about %d", n, MaxSubjectChars)
	}
	if allCaps(subjectText) {
		add(CodeSubjectAllCaps, "subject is in capitals; readers and spam filters take that as shouting")
	}
	if n := countWords(bodyText); n > MaxBodyWords {
		add(CodeBodyTooLong, "body has %d words; cold emails over %d words get fewer replies", n, MaxBodyWords)
	}
	if n := len(linkRE.FindAllStringIndex(bodyText, -1)); n > MaxLinks {
		add(CodeTooManyLinks, "body has %d links; more than %d makes a cold email look like marketing and hurts deliverability", n, MaxLinks)
	}
	if !personalized(subjectT) && !personalized(bodyT) {
		add(CodeNoPersonalization, "neither subject nor body uses a lead field such as {{first_name}} or {{company}}; emails that could go to anyone get fewer replies")
	}
	var found []string
	for _, part := range []struct{ name, text string }{{"subject", subjectText}, {"body", bodyText}} {
		for _, p := range findSpam(part.text) {
			found = append(found, fmt.Sprintf("%q (%s)", p, part.name))
		}
	}
	if len(found) > 0 {
		add(CodeSpamWords, "contains spam-trigger phrases %s; spam filters weigh them, rephrase", strings.Join(found, ", "))
	}
	return ws
}

// lintView returns t, or else text parsed accepting any field name, or else
// (text is malformed) text as one literal.
func lintView(text string, t *Template) *Template {
	if t != nil {
		return t
	}
	if t, err := parse(text, nil); err == nil {
		return t
	}
	return &Template{src: text, nodes: []node{{text: text}}}
}

// skeleton returns t's literal text with each field replaced by placeholder.
func skeleton(t *Template) string {
	var b strings.Builder
	for _, n := range t.nodes {
		if n.field != "" {
			b.WriteString(placeholder)
		} else {
			b.WriteString(n.text)
		}
	}
	return b.String()
}

func allCaps(s string) bool {
	cased := 0
	for _, r := range s {
		if unicode.IsLower(r) {
			return false
		}
		// Only letters with case count: a subject in Chinese is not shouting.
		if unicode.IsUpper(r) || unicode.IsTitle(r) {
			cased++
		}
	}
	return cased >= 4
}

func countWords(s string) int {
	n := 0
	for _, w := range strings.Fields(s) {
		if strings.Contains(w, placeholder) || strings.IndexFunc(w, isWordRune) >= 0 {
			n++
		}
	}
	return n
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func personalized(t *Template) bool {
	for _, f := range t.Fields() {
		if isLeadField(f) {
			return true
		}
	}
	return false
}

// findSpam returns the spamPhrases that occur in s as whole words.
func findSpam(s string) []string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	var out []string
	for _, p := range spamPhrases {
		if containsWord(s, p) {
			out = append(out, p)
		}
	}
	return out
}

// containsWord reports whether p occurs in s not glued to a letter or digit
// on a side where p itself starts or ends with one.
func containsWord(s, p string) bool {
	first, _ := utf8.DecodeRuneInString(p)
	last, _ := utf8.DecodeLastRuneInString(p)
	for off := 0; ; {
		i := strings.Index(s[off:], p)
		if i < 0 {
			return false
		}
		i += off
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[i+len(p):])
		okBefore := i == 0 || !isWordRune(first) || !isWordRune(before)
		okAfter := i+len(p) == len(s) || !isWordRune(last) || !isWordRune(after)
		if okBefore && okAfter {
			return true
		}
		off = i + 1
	}
}
