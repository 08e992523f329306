package demo

import (
	"bytes"
	"os"
	"testing"
)

// TestExamplesUpToDate keeps examples/prospects.csv and its answers in step
// with the world that defines them. UPDATE_EXAMPLES=1 rewrites them.
func TestExamplesUpToDate(t *testing.T) {
	var list, answers bytes.Buffer
	if err := WriteList(&list, &answers); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"../../examples/prospects.csv":         list.Bytes(),
		"../../examples/prospects.answers.csv": answers.Bytes(),
	}
	for name, want := range files {
		if os.Getenv("UPDATE_EXAMPLES") == "1" {
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run UPDATE_EXAMPLES=1 go test ./internal/demo", name)
		}
	}
}
