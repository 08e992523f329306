package template

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

var testFields = Standard().With("custom.industry", "custom.region")

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		text       string
		sentinel   error
		line, col  int
		field      string
		suggestion string
		msg        string // substring of Error()
	}{
		{"typo transposed", "Hi {{frist_name}},", ErrUnknownField, 1, 4, "frist_name", "first_name", "did you mean first_name?"},
		{"typo one letter", "{{compny}}", ErrUnknownField, 1, 1, "compny", "company", "did you mean company?"},
		{"typo custom", "x {{custom.industy}}", ErrUnknownField, 1, 3, "custom.industy", "custom.industry", "did you mean custom.industry?"},
		{"unknown far", "{{favourite_color}}", ErrUnknownField, 1, 1, "favourite_color", "", "known fields: company, custom.industry, custom.region, email, first_name"},
		{"unknown custom", "{{custom.budget}}", ErrUnknownField, 1, 1, "custom.budget", "", `unknown field "custom.budget"`},
		{"unknown on line 3", "Hi,\n\nAbout {{ compan }} today", ErrUnknownField, 3, 7, "compan", "company", "3:7"},
		{"column counts characters", "Grüße, Zoë — {{nme}}", ErrUnknownField, 1, 14, "nme", "", "1:14"},
		{"unclosed at end", "Hi {{first_name", ErrUnclosedField, 1, 4, "", "", "not closed with }}"},
		{"unclosed at line end", "Hi {{first_name,\nthanks {{company}}", ErrUnclosedField, 1, 4, "", "", "before the end of the line"},
		{"single closing brace", "Hi {{first_name}!", ErrUnclosedField, 1, 16, "", "", `single "}" inside the field opened at 1:4`},
		{"single brace at end", "{{first_name}", ErrUnclosedField, 1, 13, "", "", `single "}"`},
		{"empty", "Hi {{}}", ErrEmptyField, 1, 4, "", "", "empty field"},
		{"empty with spaces", "line\n  {{   }}", ErrEmptyField, 2, 3, "", "", "empty field"},
		{"fallback without name", "{{ |there}}", ErrEmptyField, 1, 1, "", "", "fallback but no name"},
		{"nested", "{{first_{{x}}name}}", ErrNestedBrace, 1, 9, "", "", "fields cannot nest"},
		{"triple mustache", "{{{first_name}}}", ErrNestedBrace, 1, 3, "", "", `unexpected "{" inside the field opened at 1:1`},
		{"brace in fallback", "{{first_name|{there}}", ErrNestedBrace, 1, 14, "", "", "nest"},
		{"uppercase", "Hi {{ First_Name }}", ErrInvalidName, 1, 7, "First_Name", "first_name", `invalid character 'F' in field name "First_Name"`},
		{"space in name", "{{first name|there}}", ErrInvalidName, 1, 8, "first name", "first_name", "did you mean first_name?"},
		{"hyphen", "{{last-name}}", ErrInvalidName, 1, 7, "last-name", "last_name", "did you mean last_name?"},
		{"unicode in name", "{{prénom}}", ErrInvalidName, 1, 5, "prénom", "", "'é'"},
		{"nothing known", "{{first_name}}", ErrUnknownField, 1, 1, "first_name", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			known := testFields
			if tt.name == "nothing known" {
				known = FieldSet{}
			}
			tpl, err := Parse(tt.text, known)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error", tt.text, tpl.nodes)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v does not wrap %v", err, tt.sentinel)
			}
			if pe.Line != tt.line || pe.Col != tt.col {
				t.Errorf("position %d:%d, want %d:%d (%v)", pe.Line, pe.Col, tt.line, tt.col, err)
			}
			if pe.Field != tt.field || pe.Suggestion != tt.suggestion {
				t.Errorf("field %q suggestion %q, want %q %q", pe.Field, pe.Suggestion, tt.field, tt.suggestion)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "template: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestUnknownFieldListsKnown(t *testing.T) {
	t.Parallel()
	_, err := Parse("{{frist_name}}", Standard())
	want := `template: 1:1: unknown field "frist_name" (did you mean first_name?); known fields: ` +
		"company, email, first_name, last_name, sender_email, sender_first_name, sender_name, timezone, title"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
	var pe *ParseError
	errors.As(err, &pe)
	if !slices.Equal(pe.Known, Standard().Names()) {
		t.Errorf("Known = %v", pe.Known)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	lead := map[string]string{
		"first_name":      "Zoë",
		"company":         "Müller & Söhne GmbH",
		"title":           "",
		"last_name":       "   ",
		"custom.industry": "logistics",
		"sender_name":     "Dana Ortiz",
	}
	tests := []struct {
		name, text, want string
	}{
		{"plain", "Hi {{first_name}},", "Hi Zoë,"},
		{"spaces inside braces", "Hi {{  first_name  }}!", "Hi Zoë!"},
		{"value wins over fallback", "Hi {{first_name|there}}", "Hi Zoë"},
		{"fallback for missing", "{{email|your inbox}}", "your inbox"},
		{"fallback for empty", "as {{ title | a leader }}", "as a leader"},
		{"fallback for whitespace-only", "Dear {{last_name|friend}}", "Dear friend"},
		{"empty fallback", "Hi{{title|}}.", "Hi."},
		{"empty fallback with spaces", "[{{ title | }}]", "[]"},
		{"fallback keeps later pipes", "{{email|a | b}}", "a | b"},
		{"fallback unicode", "{{email|Grüße 👋}}", "Grüße 👋"},
		{"custom field", "in {{custom.industry}}", "in logistics"},
		{"sender field", "— {{sender_name}}", "— Dana Ortiz"},
		{"no html escaping", "{{company}}", "Müller & Söhne GmbH"},
		{"unicode template", "Привет, {{first_name}}! 🎉 日本語", "Привет, Zoë! 🎉 日本語"},
		{"multiline", "Hi {{first_name}},\n\nQuick one about {{company}}.\n", "Hi Zoë,\n\nQuick one about Müller & Söhne GmbH.\n"},
		{"adjacent fields", "{{first_name}}{{custom.industry}}", "Zoëlogistics"},
		{"no fields", "Just text", "Just text"},
		{"empty template", "", ""},
		{"escape", `Write \{{first_name}} to personalize`, "Write {{first_name}} to personalize"},
		{"escape then field", `\{{{{first_name}}`, "{{Zoë"},
		{"escape then brace", `\{{{`, "{{{"},
		{"lone backslash", `C:\dir {{first_name}}`, `C:\dir Zoë`},
		{"closing braces are literal", "}} and } {{first_name}}}", "}} and } Zoë}"},
		{"single open brace literal", "{ {first_name} {", "{ {first_name} {"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := Parse(tt.text, testFields)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.text, err)
			}
			got, err := tpl.Render(lead)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tt.want {
				t.Errorf("Render(%q) = %q, want %q", tt.text, got, tt.want)
			}
			if tpl.String() != tt.text {
				t.Errorf("String() = %q", tpl.String())
			}
		})
	}
}

func TestRenderMissingField(t *testing.T) {
	t.Parallel()
	tpl, err := Parse("Hi {{first_name}}, re {{company}} and {{title}} at {{company|your team}}", testFields)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"first_name": " ", "title": ""}
	out, err := tpl.Render(values)
	var mf *MissingFieldError
	if !errors.As(err, &mf) || mf.Field != "first_name" {
		t.Fatalf("Render = %q, %v; want *MissingFieldError for first_name", out, err)
	}
	if !errors.Is(err, ErrMissingField) {
		t.Errorf("%v does not match ErrMissingField", err)
	}
	if want := `template: no value for field "first_name" and no fallback`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	if out != "" {
		t.Errorf("partial output %q returned with error", out)
	}
	if got, want := tpl.Missing(values), []string{"first_name", "company", "title"}; !slices.Equal(got, want) {
		t.Errorf("Missing = %v, want %v", got, want)
	}
	if _, err := tpl.Render(nil); !errors.As(err, &mf) {
		t.Errorf("Render(nil) = %v", err)
	}
	full := map[string]string{"first_name": "Ann", "company": "Acme", "title": "CTO"}
	if got := tpl.Missing(full); len(got) != 0 {
		t.Errorf("Missing(full) = %v", got)
	}
	if got, err := tpl.Render(full); err != nil || got != "Hi Ann, re Acme and CTO at Acme" {
		t.Errorf("Render(full) = %q, %v", got, err)
	}
}

func TestRenderHTML(t *testing.T) {
	t.Parallel()
	tpl, err := Parse(`<p>Hi {{first_name|<b>there</b>}}, about {{company}}</p>`, Standard())
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.RenderHTML(map[string]string{"company": `Smith & "Sons" <script>`})
	if want := `<p>Hi <b>there</b>, about Smith &amp; &#34;Sons&#34; &lt;script&gt;</p>`; err != nil || got != want {
		t.Errorf("RenderHTML = %q, %v; want %q", got, err, want)
	}
	if _, err := tpl.RenderHTML(nil); !errors.Is(err, ErrMissingField) {
		t.Errorf("RenderHTML(nil) = %v", err)
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	tpl, err := Parse(`{{company}} {{first_name|x}} \{{title}} {{company}} {{custom.region}}`, testFields)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tpl.Fields(), []string{"company", "first_name", "custom.region"}; !slices.Equal(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
	tpl.Fields()[0] = "mutated"
	if tpl.Fields()[0] != "company" {
		t.Error("Fields shares its slice")
	}
}

func TestFieldSet(t *testing.T) {
	t.Parallel()
	std := Standard()
	custom := std.With("custom.industry")
	if std.Has("custom.industry") {
		t.Error("With modified its receiver")
	}
	if !custom.Has("custom.industry") || !custom.Has("first_name") {
		t.Error("With lost names")
	}
	if (FieldSet{}).Has("first_name") || len((FieldSet{}).Names()) != 0 {
		t.Error("zero FieldSet is not empty")
	}
	for name, want := range map[string]bool{
		"first_name": true, "custom.industry": true, "a1": true,
		"": false, "First": false, "first name": false, "prénom": false, "a-b": false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v", name, got)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"frist_name", "first_name"},
		{"firstname", "first_name"},
		{"first_nam", "first_name"},
		{"First Name", "first_name"},
		{"compnay", "company"},
		{"emial", "email"},
		{"titel", "title"},
		{"tmezone", "timezone"},
		{"sender_nme", "sender_name"},
		{"lastname", "last_name"},
		{"phone", ""},
		{"linkedin_url", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, Standard()); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"frist", "first", 2}, {"zoë", "zoe", 1}, {"same", "same", 0},
	}
	for _, tt := range tests {
		if got := levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
