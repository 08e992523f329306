package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOpenAPICoversEveryRoute keeps /v1/openapi.json in step with the
// routes the server registers.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	s := New(Config{})
	seen := map[string]bool{}
	for _, r := range s.routes() {
		ops, ok := doc.Paths[r.path]
		if !ok {
			t.Errorf("%s %s: path missing from openapi.json", r.method, r.path)
			continue
		}
		if _, ok := ops[strings.ToLower(r.method)]; !ok {
			t.Errorf("%s %s: method missing from openapi.json", r.method, r.path)
		}
		seen[strings.ToLower(r.method)+" "+r.path] = true
	}
	// And nothing documented that the server does not serve.
	for p, ops := range doc.Paths {
		for m := range ops {
			switch m {
			case "get", "post", "put", "patch", "delete":
				if !seen[m+" "+p] {
					t.Errorf("openapi.json documents %s %s, which the server does not route", strings.ToUpper(m), p)
				}
			}
		}
	}
}
