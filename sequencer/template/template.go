package template

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"unicode/utf8"
)

// Sentinel errors that a *ParseError wraps, for errors.Is.
var (
	ErrUnknownField  = errors.New("template: unknown field")
	ErrUnclosedField = errors.New("template: unclosed field")
	ErrEmptyField    = errors.New("template: empty field")
	ErrNestedBrace   = errors.New("template: nested brace")
	ErrInvalidName   = errors.New("template: invalid field name")
	ErrMissingField  = errors.New("template: missing field value")
)

// A ParseError is why a template could not be parsed, and where.
type ParseError struct {
	Line, Col  int      // 1-based; Col counts characters, not bytes
	Field      string   // the field name at fault, if one could be read
	Suggestion string   // the closest known name, for unknown or misspelled fields
	Known      []string // the known field names, for unknown fields
	Err        error    // one of the sentinel errors above
	msg        string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("template: %d:%d: %s", e.Line, e.Col, e.msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// A MissingFieldError is returned by Render when a field has no value and no
// fallback. It matches ErrMissingField with errors.Is.
type MissingFieldError struct {
	Field string
}

func (e *MissingFieldError) Error() string {
	return fmt.Sprintf("template: no value for field %q and no fallback", e.Field)
}

func (e *MissingFieldError) Is(target error) bool { return target == ErrMissingField }

// A Template is a parsed subject or body. It is immutable and safe for
// concurrent use.
type Template struct {
	src   string
	nodes []node
}

// A node is literal text (field == "") or a field reference.
type node struct {
	text        string // literal text, with escapes resolved
	field       string
	fallback    string
	hasFallback bool
}

// Parse parses text, rejecting any field that is not in known.
func Parse(text string, known FieldSet) (*Template, error) {
	return parse(text, &known)
}

// parse parses text; a nil known accepts every well-formed name, which is
// how Lint reads a template that failed to parse against the real set.
func parse(text string, known *FieldSet) (*Template, error) {
	t := &Template{src: text}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.nodes = append(t.nodes, node{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(text); {
		switch {
		case strings.HasPrefix(text[i:], `\{{`):
			lit.WriteString("{{")
			i += 3
		case strings.HasPrefix(text[i:], "{{"):
			n, end, err := parseField(text, i, known)
			if err != nil {
				return nil, err
			}
			flush()
			t.nodes = append(t.nodes, n)
			i = end
		default:
			// Bytes are copied one by one: only ASCII is matched above, so
			// multi-byte characters pass through intact.
			lit.WriteByte(text[i])
			i++
		}
	}
	flush()
	return t, nil
}

// parseField parses the field whose "{{" is at text[start:], returning it and
// the offset just past its "}}".
func parseField(text string, start int, known *FieldSet) (node, int, error) {
	inner := start + 2
	k := inner
	for k < len(text) && text[k] != '{' && text[k] != '}' && text[k] != '\n' {
		k++
	}
	switch {
	case k == len(text):
		return node{}, 0, perr(text, start, ErrUnclosedField, "", "{{ is not closed with }}")
	case text[k] == '\n':
		return node{}, 0, perr(text, start, ErrUnclosedField, "", "{{ is not closed with }} before the end of the line")
	case text[k] == '{':
		return node{}, 0, perr(text, k, ErrNestedBrace, "",
			fmt.Sprintf(`unexpected "{" inside the field opened at %s; fields cannot nest (write a literal {{ as \{{)`, position(text, start)))
	case k+1 >= len(text) || text[k+1] != '}':
		return node{}, 0, perr(text, k, ErrUnclosedField, "",
			fmt.Sprintf(`single "}" inside the field opened at %s; close fields with }}`, position(text, start)))
	}
	end := k + 2
	content := text[inner:k]
	rawName, fallback, hasFallback := strings.Cut(content, "|")
	name := strings.TrimSpace(rawName)
	if name == "" {
		if hasFallback {
			return node{}, 0, perr(text, start, ErrEmptyField, "", "field has a fallback but no name")
		}
		return node{}, 0, perr(text, start, ErrEmptyField, "", "empty field {{}}; write a field name such as {{first_name}}")
	}
	nameOff := inner + strings.Index(rawName, name)
	for j := 0; j < len(name); {
		r, size := utf8.DecodeRuneInString(name[j:])
		if size == 1 && nameByte(name[j]) {
			j++
			continue
		}
		e := perr(text, nameOff+j, ErrInvalidName, name,
			fmt.Sprintf("invalid character %q in field name %q; names use lowercase letters, digits, _ and .", r, name))
		if known != nil {
			if s := suggest(name, *known); s != "" {
				e.Suggestion = s
				e.msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
		}
		return node{}, 0, e
	}
	if known != nil && !known.Has(name) {
		e := perr(text, start, ErrUnknownField, name, fmt.Sprintf("unknown field %q", name))
		e.Known = known.Names()
		if s := suggest(name, *known); s != "" {
			e.Suggestion = s
			e.msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		if len(e.Known) == 0 {
			e.msg += "; no fields are known"
		} else {
			e.msg += "; known fields: " + strings.Join(e.Known, ", ")
		}
		return node{}, 0, e
	}
	return node{field: name, fallback: strings.TrimSpace(fallback), hasFallback: hasFallback}, end, nil
}

func perr(text string, off int, sentinel error, field, msg string) *ParseError {
	line, col := lineCol(text, off)
	return &ParseError{Line: line, Col: col, Field: field, Err: sentinel, msg: msg}
}

// lineCol returns the 1-based line and character column of byte offset off.
func lineCol(text string, off int) (line, col int) {
	before := text[:off]
	line = strings.Count(before, "\n") + 1
	col = utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
	return line, col
}

func position(text string, off int) string {
	line, col := lineCol(text, off)
	return fmt.Sprintf("%d:%d", line, col)
}

// String returns the text the template was parsed from.
func (t *Template) String() string { return t.src }

// Fields returns the names of the fields t references, each once, in order of
// first appearance.
func (t *Template) Fields() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range t.nodes {
		if n.field != "" && !seen[n.field] {
			seen[n.field] = true
			out = append(out, n.field)
		}
	}
	return out
}

// Missing returns the fields, each once and in order of first appearance,
// that Render would fail on for values: those with a blank or missing value
// at an occurrence without a fallback. Use it to report everything a lead
// lacks at once, where Render stops at the first.
func (t *Template) Missing(values map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range t.nodes {
		if n.field != "" && !n.hasFallback && blank(values[n.field]) && !seen[n.field] {
			seen[n.field] = true
			out = append(out, n.field)
		}
	}
	return out
}

// Render renders t with values inserted as they are, for plain-text email.
// A missing, empty or whitespace-only value uses the field's fallback; the
// first field without one fails with a *MissingFieldError.
func (t *Template) Render(values map[string]string) (string, error) {
	return t.render(values, func(s string) string { return s })
}

// RenderHTML is Render for an HTML body: each value is HTML-escaped. The
// template's text and fallbacks are not, since the author wrote them as HTML.
func (t *Template) RenderHTML(values map[string]string) (string, error) {
	return t.render(values, html.EscapeString)
}

func (t *Template) render(values map[string]string, escape func(string) string) (string, error) {
	var b strings.Builder
	for _, n := range t.nodes {
		switch v := values[n.field]; {
		case n.field == "":
			b.WriteString(n.text)
		case !blank(v):
			b.WriteString(escape(v))
		case n.hasFallback:
			b.WriteString(n.fallback)
		default:
			return "", &MissingFieldError{Field: n.field}
		}
	}
	return b.String(), nil
}

// blank reports whether a value counts as missing: "Hi   ," is no better
// than "Hi ,".
func blank(v string) bool { return strings.TrimSpace(v) == "" }
