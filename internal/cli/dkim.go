package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/touchline/touchline/internal/dkimkey"
)

func init() {
	register("dkim", "make a DKIM signing key and the DNS record that publishes it", runDKIM)
}

func dkimUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: touchline dkim SUBCOMMAND [flags]")
	fmt.Fprintln(w, "\nSubcommands:")
	fmt.Fprintln(w, "  keygen   make a signing key for a domain and print the TXT record to publish")
	fmt.Fprintln(w, "\nRun 'touchline dkim keygen -h' for its flags.")
}

func runDKIM(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		dkimUsage(env.Stderr)
		return ExitUsage
	}
	switch args[0] {
	case "keygen":
		return runDKIMKeygen(ctx, env, args[1:])
	case "help", "-h", "--help":
		dkimUsage(env.Stdout)
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "touchline dkim: unknown subcommand %q\n\n", args[0])
	dkimUsage(env.Stderr)
	return ExitUsage
}

func runDKIMKeygen(_ context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "dkim keygen", "dkim keygen --domain DOMAIN --selector SELECTOR [--type rsa2048|rsa3072|rsa4096|ed25519] [--out FILE] [--force]")
	domain := fs.String("domain", "", "signing `domain`, the d= of signatures (an internationalized name is stored as its A-label)")
	selector := fs.String("selector", "", "`selector`, the s= of signatures; the key is published at SELECTOR._domainkey.DOMAIN")
	typ := fs.String("type", string(dkimkey.RSA2048), "key `type`: rsa2048 (every receiver verifies it), rsa3072, rsa4096, or ed25519\n"+
		"(RFC 8463: far smaller, but some receivers do not verify it yet, so if you want it,\n"+
		"publish it beside an RSA key under a second selector and sign with both)")
	out := fs.String("out", "", "`file` to write the private key to (default SELECTOR._domainkey.DOMAIN.key in the current directory)")
	force := fs.Bool("force", false, "replace the key file if it exists (the old key is lost)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagError(err)
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "touchline dkim keygen: "+format+"\n", a...)
		return ExitUsage
	}
	if len(pos) > 0 {
		return fail("unexpected argument %q (the domain and selector are given with --domain and --selector)", pos[0])
	}
	if *domain == "" || *selector == "" {
		return fail("--domain and --selector are required, e.g. --domain example.com --selector s2025")
	}
	d, err := dkimkey.NormalizeDomain(*domain)
	if err != nil {
		return fail("--domain: %s", strings.TrimPrefix(err.Error(), "dkimkey: "))
	}
	if err := dkimkey.ValidSelector(*selector); err != nil {
		return fail("--selector: %s", strings.TrimPrefix(err.Error(), "dkimkey: "))
	}
	t, err := dkimkey.ParseType(*typ)
	if err != nil {
		return fail("--type: %s", strings.TrimPrefix(err.Error(), "dkimkey: "))
	}
	path := *out
	if path == "" {
		path = dkimkey.RecordName(*selector, d) + ".key"
	}

	exists := func() int {
		fmt.Fprintf(env.Stderr, "touchline dkim keygen: %s already exists; nothing written.\n"+
			"A key in use must stay until its record is withdrawn: pick a new --selector to rotate keys,\n"+
			"or pass --force to replace this file.\n", path)
		return ExitError
	}
	if _, err := os.Lstat(path); err == nil && !*force {
		return exists() // before spending seconds on an RSA key
	}
	key, err := dkimkey.Generate(t)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline dkim keygen: %v\n", err)
		return ExitError
	}
	if err := dkimkey.WriteKeyFile(path, key, *force); err != nil {
		if errors.Is(err, dkimkey.ErrExists) {
			return exists()
		}
		fmt.Fprintf(env.Stderr, "touchline dkim keygen: %v\n", err)
		return ExitError
	}
	value, err := dkimkey.TXTValue(key.Public())
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline dkim keygen: %v\n", err)
		return ExitError
	}
	line, err := dkimkey.ZoneLine(*selector, d, key.Public())
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline dkim keygen: %v\n", err)
		return ExitError
	}
	name := dkimkey.RecordName(*selector, d)
	w := env.Stdout
	fmt.Fprintf(w, "Publish this TXT record in the DNS of %s (zone-file line):\n\n", d)
	fmt.Fprintf(w, "%s\n\n", line)
	fmt.Fprintf(w, "For a DNS provider's web panel:\n\n")
	fmt.Fprintf(w, "Name:  %s\n", name)
	fmt.Fprintf(w, "       (a panel that appends the domain itself wants %s._domainkey)\n", *selector)
	fmt.Fprintf(w, "Type:  TXT\n")
	fmt.Fprintf(w, "Value: %s\n\n", value)
	fmt.Fprintf(w, "The private key is in %s (mode 0600); keep it secret: whoever holds it can sign mail as %s.\n", path, d)
	return ExitOK
}
