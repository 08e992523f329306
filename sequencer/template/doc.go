// Package template parses and renders the subject and body templates of a
// cadence's email steps, and lints them for the habits that cost cold email
// its replies and its deliverability.
//
// # Syntax
//
// A template is plain text with fields in double braces:
//
//	Hi {{first_name|there}}, how is {{ company }} handling {{custom.industry}} leads?
//
// The rules:
//
//   - {{name}} inserts the lead's (or sender's) value of the field name.
//   - {{name|fallback}} inserts fallback when the value is missing or blank.
//     The fallback is the text after the first "|", trimmed; it may be empty
//     ({{title|}} renders nothing) and may contain further "|" characters.
//   - Whitespace around the name and the fallback is ignored.
//   - Field names are lowercase ASCII letters, digits, "_" and "."; custom
//     fields are written custom.<key>.
//   - \{{ is a literal "{{". A backslash anywhere else is literal, so a
//     backslash cannot directly precede a field; "}}" outside a field is
//     literal and needs no escape.
//   - Inside a field, "{" is an error (fields do not nest, and "{{{x}}}" is a
//     Mustache habit, not a field), as is a single "}" or a line break: a
//     field must be closed with "}}" on the line it opens.
//
// # Parsing
//
// Parse checks every field against a FieldSet, so a typo is caught when the
// cadence is created rather than when the first touch is held. A failure is a
// *ParseError carrying the 1-based line and column (counted in characters,
// not bytes) and wrapping one of the sentinel errors (ErrUnknownField,
// ErrUnclosedField, ErrEmptyField, ErrNestedBrace, ErrInvalidName). Errors
// about a whole field (unknown, empty, unclosed) point at its opening "{{";
// errors about one character (an invalid name character, a nested "{", a
// stray "}") point at that character. Parse reports the first error only.
//
// # Rendering
//
// Render inserts values as they are: email bodies are plain text here, and
// nothing is HTML-escaped. An HTML body must use RenderHTML, which escapes
// each value (but not the template's own text or fallbacks, which the author
// wrote as HTML). A value that is missing, empty or only whitespace uses the
// field's fallback; a field without one makes Render fail with a
// *MissingFieldError, so the touch is held rather than sent as "Hi ,".
//
// # Linting
//
// Lint returns warnings, never errors: a rep may send a long email on
// purpose. See Lint for the checks and their thresholds.
package template
