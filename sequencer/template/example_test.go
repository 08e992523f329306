package template_test

import (
	"errors"
	"fmt"

	"github.com/touchline/touchline/sequencer/template"
)

func Example() {
	known := template.Standard().With("custom.industry")
	body, err := template.Parse("Hi {{first_name|there}}, how does {{company}} vet {{custom.industry}} leads?", known)
	if err != nil {
		panic(err)
	}
	fmt.Println(body.Fields())

	out, _ := body.Render(map[string]string{"company": "Acme", "custom.industry": "fintech"})
	fmt.Println(out)

	_, err = body.Render(map[string]string{"first_name": "Ann"})
	var missing *template.MissingFieldError
	if errors.As(err, &missing) {
		fmt.Println("hold the touch:", missing.Field, "is missing")
	}
	// Output:
	// [first_name company custom.industry]
	// Hi there, how does Acme vet fintech leads?
	// hold the touch: company is missing
}

func ExampleParse_typo() {
	_, err := template.Parse("Hi {{frist_name}},", template.NewFieldSet("first_name", "company"))
	fmt.Println(err)
	// Output:
	// template: 1:4: unknown field "frist_name" (did you mean first_name?); known fields: company, first_name
}

func ExampleLint() {
	subject := "QUICK QUESTION"
	body := "Hi,\n\nClick here to book a demo: https://touchline.example/demo\n\n{{sender_name}}"
	st, _ := template.Parse(subject, template.Standard())
	bt, _ := template.Parse(body, template.Standard())
	for _, w := range template.Lint(subject, body, st, bt) {
		fmt.Printf("%s: %s\n", w.Code, w.Message)
	}
	// Output:
	// subject_all_caps: subject is in capitals; readers and spam filters take that as shouting
	// no_personalization: neither subject nor body uses a lead field such as {{first_name}} or {{company}}; emails that could go to anyone get fewer replies
	// spam_words: contains spam-trigger phrases "click here" (body); spam filters weigh them, rephrase
}
