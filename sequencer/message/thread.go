package message

import "strings"

// replyPrefixes are the reply markers mail clients put before a subject,
// compared case-insensitively: "Re" (RFC 5322 §3.6.5) and the
// translations Outlook and others write (German "Aw", Scandinavian "Sv",
// Dutch "Antw", Italian "R" and "Rif", Polish "Odp").
var replyPrefixes = []string{"re", "aw", "sv", "antw", "rif", "odp", "r"}

// ThreadSubject returns the subject of a reply in the thread of a first
// email with subject first: "Re: " and first without the reply markers it
// already has, so "Re: Re:" never appears (RFC 5322 §3.6.5 asks for one).
// A counted marker as "RE[2]:" counts as one.
func ThreadSubject(first string) string {
	s := strings.TrimSpace(first)
	for {
		rest, ok := cutReplyPrefix(s)
		if !ok {
			break
		}
		s = rest
	}
	if s == "" {
		return "Re:"
	}
	return "Re: " + s
}

// cutReplyPrefix removes one leading reply marker, "Re:", "RE :", "Aw:",
// "Re[2]:", and the white space after it.
func cutReplyPrefix(s string) (string, bool) {
	for _, p := range replyPrefixes {
		if len(s) < len(p) || !strings.EqualFold(s[:len(p)], p) {
			continue
		}
		rest := s[len(p):]
		if strings.HasPrefix(rest, "[") {
			if i := strings.IndexByte(rest, ']'); i > 1 && allDigits(rest[1:i]) {
				rest = rest[i+1:]
			}
		}
		rest = strings.TrimLeft(rest, " \t")
		if after, ok := strings.CutPrefix(rest, ":"); ok {
			return strings.TrimLeft(after, " \t"), true
		}
		// Full-width colon of Chinese and Japanese clients.
		if after, ok := strings.CutPrefix(rest, "："); ok {
			return strings.TrimLeft(after, " \t"), true
		}
	}
	return s, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
