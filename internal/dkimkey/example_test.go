package dkimkey_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"

	"github.com/touchline/touchline/internal/dkimkey"
)

// The key record for the Ed25519 key of RFC 8463 Appendix A.
func ExampleZoneLine() {
	seed, _ := base64.StdEncoding.DecodeString("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
	key := ed25519.NewKeyFromSeed(seed)

	line, err := dkimkey.ZoneLine("brisbane", "football.example.com", key.Public())
	if err != nil {
		panic(err)
	}
	fmt.Println(line)
	// Output:
	// brisbane._domainkey.football.example.com. 3600 IN TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
}
