package server

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEveryRoute keeps README.md's route table in step with
// the routes the server registers: each appears as `METHOD PATH`.
func TestREADMEListsEveryRoute(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range (&Server{}).routes() {
		if row := "| `" + r.method + " " + r.path + "` |"; !strings.Contains(string(readme), row) {
			t.Errorf("README.md's route table has no row %s", row)
		}
	}
}
