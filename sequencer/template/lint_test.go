package template

import (
	"slices"
	"strings"
	"testing"
)

// A body a rep could send as is: personalized, short, one link.
const goodBody = `Hi {{first_name|there}},

Saw that {{company}} is hiring SDRs in {{custom.region|your region}}. Teams like yours
use Touchline to check lists before a sequence starts, so bounces stay under 1%.

Worth a 15-minute look next week? Here is a 2-minute demo: https://touchline.example/demo

{{sender_first_name}}`

const goodSubject = "Bounces at {{company}}"

func codes(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Code)
	}
	return out
}

func words(n int) string {
	return strings.TrimSpace(strings.Repeat("word ", n))
}

func TestLint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		subject, body string
		want          []string
		msg           string // substring of the first warning's message
	}{
		{"clean", goodSubject, goodBody, nil, ""},

		{"subject 61 chars", strings.Repeat("a", 61), goodBody, []string{CodeSubjectTooLong}, "subject has 61 characters"},
		{"subject 60 chars", strings.Repeat("a", 60), goodBody, nil, ""},
		{"subject 60 unicode chars", strings.Repeat("ü", 60), goodBody, nil, ""},
		{"subject length trims", "  " + strings.Repeat("a", 60) + "  ", goodBody, nil, ""},

		{"all caps", "QUICK QUESTION", goodBody, []string{CodeSubjectAllCaps}, "capitals"},
		{"all caps with field", "FREE AUDIT FOR {{company}}", goodBody, []string{CodeSubjectAllCaps}, ""},
		{"all caps four letters", "COST?", goodBody, []string{CodeSubjectAllCaps}, ""},
		{"three caps is an acronym", "ROI?", goodBody, nil, ""},
		{"one lowercase letter", "ROI FOR Acme", goodBody, nil, ""},
		{"caseless script", "关于贵公司的问题", goodBody, nil, ""},
		{"cyrillic caps", "СРОЧНО ВАЖНО", goodBody, []string{CodeSubjectAllCaps}, ""},

		{"body 121 words", "hi", "{{first_name}} " + words(120), []string{CodeBodyTooLong}, "body has 121 words; cold emails over 120 words get fewer replies"},
		{"body 120 words", "hi", "{{first_name}} " + words(119), nil, ""},
		{"field counts as one word", "hi", "{{ first_name | dear reader of this very long fallback }} " + words(119), nil, ""},
		{"dashes are not words", "hi", "{{first_name}} " + words(119) + " — - ... !", nil, ""},

		{"three links", goodSubject, goodBody + "\nhttps://a.example http://b.example www.c.example", []string{CodeTooManyLinks}, "body has 4 links"},
		{"two links", goodSubject, "{{first_name}}: see https://a.example/x and (www.b.example).", nil, ""},
		{"https www is one link", goodSubject, "{{first_name}} https://www.a.example https://www.b.example", nil, ""},
		{"uppercase scheme", goodSubject, "{{first_name}} HTTPS://A.EXAMPLE WWW.B.EXAMPLE http://c.example", []string{CodeTooManyLinks}, "3 links"},
		{"link in fallback not counted", goodSubject, "{{first_name|https://a.example}} https://b.example https://c.example", nil, ""},

		{"no personalization", "Quick question", "Hi,\n\nShort note.\n\n{{sender_name}}", []string{CodeNoPersonalization}, "lead field"},
		{"personalized subject only", "For {{first_name}}", "Hi,\n\nShort note.", nil, ""},
		{"personalized body only", "Quick question", "Hi {{last_name}}", nil, ""},
		{"custom field personalizes", "Quick question", "About {{custom.industry}}", nil, ""},
		{"escaped field is not personalization", "Quick question", `Use \{{first_name}} in templates`, []string{CodeNoPersonalization}, ""},

		{"spam in subject", "Act now, {{first_name}}", goodBody, []string{CodeSpamWords}, `"act now" (subject)`},
		{"spam in body", goodSubject, goodBody + "\nClick  HERE for a Risk-Free trial. FREE!!! 100% guaranteed", []string{CodeSpamWords},
			`"free!!!" (body), "100% guaranteed" (body), "risk-free" (body), "click here" (body)`},
		{"spam across line break", goodSubject, goodBody + "\nclick\nhere", []string{CodeSpamWords}, `"click here" (body)`},
		{"spam inside word not matched", "Contact now", "Hi {{first_name}}, we exact nowhere; clickhere; free!! riskfree", nil, ""},

		{"everything", "FREE!!! ACT NOW AND GET YOUR FREE AUDIT TODAY, LIMITED SPOTS LEFT!!", words(130) +
			" https://a.example https://b.example https://c.example", []string{
			CodeSubjectTooLong, CodeSubjectAllCaps, CodeBodyTooLong, CodeTooManyLinks, CodeNoPersonalization, CodeSpamWords,
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, parsed := range []bool{true, false} {
				var st, bt *Template
				if parsed {
					var err error
					if st, err = Parse(tt.subject, testFields); err != nil {
						t.Fatalf("subject: %v", err)
					}
					if bt, err = Parse(tt.body, testFields); err != nil {
						t.Fatalf("body: %v", err)
					}
				}
				ws := Lint(tt.subject, tt.body, st, bt)
				if got := codes(ws); !slices.Equal(got, tt.want) {
					t.Fatalf("parsed=%v: codes %v, want %v\n%v", parsed, got, tt.want, ws)
				}
				if tt.msg != "" && !strings.Contains(ws[0].Message, tt.msg) {
					t.Errorf("message %q does not contain %q", ws[0].Message, tt.msg)
				}
				for _, w := range ws {
					if w.Message == "" {
						t.Errorf("%s has no message", w.Code)
					}
				}
			}
		})
	}
}

// Lint must help while the rep is still fixing the template.
func TestLintUnparsable(t *testing.T) {
	t.Parallel()
	// Unknown field: still read as a (lead) field.
	if got := codes(Lint("Hi {{frist_name}}", "short", nil, nil)); got != nil {
		t.Errorf("unknown field: %v", got)
	}
	// Malformed: read as text, so there are no fields.
	if got := codes(Lint("Hi {{first_name", "short", nil, nil)); !slices.Equal(got, []string{CodeNoPersonalization}) {
		t.Errorf("malformed: %v", got)
	}
}
