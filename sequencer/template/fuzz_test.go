package template

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "Hi {{first_name}},", "{{first_name|there}}", "{{ title | }}", "{{custom.industry}}",
		`\{{first_name}}`, `\{{{{first_name}}`, `\\{{x}}`, "{{", "{{}}", "{{{x}}}", "{{x}", "}}{{",
		"{{frist_name}}", "{{First_Name}}", "a\n{{company\n}}", "Grüße {{first_name|Zoë 👋}}",
		"{{first_name|a|b}}", "{{|x}}", "\xff{{first_name}}\xfe", "{{prénom}}",
	} {
		f.Add(s)
	}
	known := Standard().With("custom.industry", "x")
	f.Fuzz(func(t *testing.T, text string) {
		tpl, err := Parse(text, known)
		// Lint must never panic, parsed or not.
		Lint(text, text, tpl, tpl)
		Lint(text, text, nil, nil)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			if pe.Line < 1 || pe.Col < 1 || pe.Line > strings.Count(text, "\n")+1 || pe.Col > utf8.RuneCountInString(text)+1 {
				t.Fatalf("position %d:%d out of range for %q", pe.Line, pe.Col, text)
			}
			return
		}
		values := map[string]string{}
		for _, name := range tpl.Fields() {
			if !known.Has(name) {
				t.Fatalf("Fields returned unknown %q", name)
			}
			values[name] = "x"
		}
		if missing := tpl.Missing(values); len(missing) != 0 {
			t.Fatalf("Missing = %v with every field set", missing)
		}
		out, err := tpl.Render(values)
		if err != nil {
			t.Fatalf("Render(%q): %v", text, err)
		}
		if _, err := tpl.RenderHTML(values); err != nil {
			t.Fatalf("RenderHTML(%q): %v", text, err)
		}
		// Every "{{" in the output must come from an escape.
		if !strings.Contains(text, `\{{`) && strings.Contains(out, "{{") {
			t.Fatalf("Render(%q) = %q contains {{ without an escape", text, out)
		}
		if strings.Count(out, "{{") > strings.Count(text, `\{{`)*2 {
			t.Fatalf("Render(%q) = %q has more {{ than escapes explain", text, out)
		}
	})
}
