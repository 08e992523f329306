package template

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// A FieldSet is the set of field names a template may reference. It is a
// concrete set rather than a Has-only interface because a parse error lists
// the known names and suggests the closest one, which needs them enumerated.
// The zero FieldSet is empty. FieldSets are immutable: With returns a copy.
type FieldSet struct {
	names map[string]struct{}
}

// standardFields are the lead and sender fields every workspace has.
var standardFields = []string{
	"first_name", "last_name", "company", "title", "email", "timezone",
	"sender_name", "sender_first_name", "sender_email",
}

// NewFieldSet returns a set of the given names. A name that is not a valid
// field name (see ValidName) is kept but can never be referenced.
func NewFieldSet(names ...string) FieldSet {
	return FieldSet{}.With(names...)
}

// Standard returns the standard lead fields (first_name, last_name, company,
// title, email, timezone) and sender fields (sender_name, sender_first_name,
// sender_email). Add a workspace's custom fields with With("custom.industry").
func Standard() FieldSet {
	return NewFieldSet(standardFields...)
}

// With returns a copy of s with names added.
func (s FieldSet) With(names ...string) FieldSet {
	m := make(map[string]struct{}, len(s.names)+len(names))
	for n := range s.names {
		m[n] = struct{}{}
	}
	for _, n := range names {
		m[n] = struct{}{}
	}
	return FieldSet{names: m}
}

// Has reports whether name is in s.
func (s FieldSet) Has(name string) bool {
	_, ok := s.names[name]
	return ok
}

// Names returns the names in s, sorted.
func (s FieldSet) Names() []string {
	out := make([]string, 0, len(s.names))
	for n := range s.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// ValidName reports whether name is a syntactically valid field name:
// non-empty, of lowercase ASCII letters, digits, "_" and ".".
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return false
		}
	}
	return true
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.'
}

// isLeadField reports whether name is about the lead rather than the sender:
// a template that only greets with {{sender_first_name}} is not personalized.
func isLeadField(name string) bool {
	return !strings.HasPrefix(name, "sender_")
}

// suggest returns the name in known closest to name, if it is within edit
// distance 2; ties go to the alphabetically first. Name is first normalized
// the way people mistype fields ("First Name", "first-name").
func suggest(name string, known FieldSet) string {
	norm := strings.ToLower(strings.TrimSpace(name))
	norm = strings.NewReplacer(" ", "_", "-", "_").Replace(norm)
	best, bestD := "", 3
	n := utf8.RuneCountInString(norm)
	for _, k := range known.Names() {
		// The distance is at least the difference in length; skipping those
		// keeps a pasted paragraph inside braces from costing quadratic time.
		if diff := n - utf8.RuneCountInString(k); diff > 2 || diff < -2 {
			continue
		}
		if d := levenshtein(norm, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// levenshtein returns the edit distance between a and b, counted in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
