package cli

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEveryServeFlag keeps README.md's configuration table in
// step with the flags of serve (a superset of worker's): each has a row
// that starts with it and names its environment variable.
func TestREADMEListsEveryServeFlag(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Stderr: io.Discard, Getenv: func(string) string { return "" }}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var p processFlags
	p.register(env, fs, true)
	fs.VisitAll(func(f *flag.Flag) {
		envName := "TOUCHLINE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if f.Name == "database-url" {
			envName = "DATABASE_URL"
		}
		found := false
		for _, l := range strings.Split(string(readme), "\n") {
			if (strings.HasPrefix(l, "| `--"+f.Name+" ") || strings.HasPrefix(l, "| `--"+f.Name+"`")) && strings.Contains(l, "`"+envName+"`") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("README.md's configuration table has no row for --%s (%s)", f.Name, envName)
		}
	})
}
