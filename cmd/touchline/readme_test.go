package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeBlock is one fenced shell block of README.md.
type readmeBlock struct {
	line int // of the opening fence, 1-based
	text string
}

// readmeBlocks returns the README's runnable shell blocks in order.
//
// The convention: a block fenced as ```sh is part of the session a
// newcomer pastes, after `make run`, into a second terminal at the root of
// the repository, and TestREADME runs it. A block fenced as ```sh norun is
// shown but not run: `make run` and `make test` themselves, and commands
// that need the Internet, port 25 or a production database. Other fences
// (```go, ```json) are not shell.
func readmeBlocks(readme string) (run []readmeBlock, err error) {
	var cur *readmeBlock
	var skip bool
	for i, l := range strings.Split(readme, "\n") {
		switch {
		case cur == nil && !skip && strings.HasPrefix(l, "```"):
			info := strings.Fields(strings.TrimPrefix(l, "```"))
			if len(info) == 0 || info[0] != "sh" {
				skip = true // some other fence; find its end
				continue
			}
			if len(info) > 1 && info[1] == "norun" {
				skip = true
				continue
			}
			if len(info) > 1 {
				return nil, fmt.Errorf("README.md:%d: unknown fence option %q (want ```sh or ```sh norun)", i+1, info[1])
			}
			cur = &readmeBlock{line: i + 1}
		case skip && strings.HasPrefix(l, "```"):
			skip = false
		case cur != nil && strings.HasPrefix(l, "```"):
			run = append(run, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	if cur != nil || skip {
		return nil, fmt.Errorf("README.md: a fence is not closed")
	}
	return run, nil
}

// makeRunArgs reads what make run serves with from the Makefile's
// RUN_ARGS, with $(LISTEN) and $(INBOUND_LISTEN) on free ports and
// $(DEMO_TLS) a directory holding a self-signed pair made here.
func makeRunArgs(t *testing.T) []string {
	t.Helper()
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN_ARGS\s*:?=\s*(.+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no RUN_ARGS line (what make run serves with)")
	}
	tlsDir := t.TempDir()
	writeSelfSigned(t, tlsDir)
	args := strings.Fields(strings.NewReplacer("$(LISTEN)", "127.0.0.1:0", "$(INBOUND_LISTEN)", "127.0.0.1:0", "$(DEMO_TLS)", tlsDir).Replace(string(m[1])))
	for _, a := range args {
		if strings.Contains(a, "$(") {
			t.Fatalf("Makefile RUN_ARGS: %q is a make variable this test does not know", a)
		}
	}
	return args
}

// TestREADME runs the README's shell blocks (see readmeBlocks), in order,
// in one bash with set -euo pipefail, against a server started as make run
// starts it (the Makefile's RUN_ARGS, on a free port, with a fresh
// database), so that the README cannot drift from the code.
//
// The blocks run in a temporary directory holding bin/touchline (this test
// binary, as the touchline binary) and examples/ (the repository's), so
// what they write stays out of the checkout. The README gives the
// server's address as TL=${TL:-http://localhost:8080}; the test sets TL to
// the server it started, and a runnable block must not name
// localhost:8080 otherwise. `make db` prints the test's database URL,
// as it prints make run's; any other make fails.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's session against a server; about half a minute")
	}
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "awk", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's examples need %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readmeBlocks(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 5 {
		t.Fatalf("README.md has %d runnable shell blocks; the first session alone has more", len(blocks))
	}
	for _, b := range blocks {
		for _, l := range strings.Split(b.text, "\n") {
			if strings.Contains(l, "localhost:8080") && !strings.HasPrefix(strings.TrimSpace(l), "TL=${TL:-") {
				t.Errorf("README.md block at line %d names localhost:8080 directly; use $TL: %s", b.line, l)
			}
		}
	}
	if t.Failed() {
		return
	}

	_, dbURL := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := touchline(t, makeRunArgs(t)...)
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Env, "DATABASE_URL="+dbURL)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var base string
	sc := bufio.NewScanner(out)
	reBase := regexp.MustCompile(`Touchline is running at (http://\S+)`)
	for base == "" && sc.Scan() {
		if m := reBase.FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatal("serve did not print \"Touchline is running at URL\"")
	}
	go io.Copy(io.Discard, out)

	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\nTOUCHLINE_TEST_MAIN=1 exec '" + self + "' -test.run='^$' -- \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "bin", "touchline"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(examples, filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}

	var script strings.Builder
	script.WriteString(`set -euo pipefail
make() { if [ "$*" = db ]; then printf '%s\n' "$README_TEST_DATABASE_URL"; else echo "README test: make $* is not run here" >&2; return 1; fi; }
trap 'echo "README test: failed in the block at README.md line $README_BLOCK" >&2' ERR
`)
	for _, b := range blocks {
		fmt.Fprintf(&script, "README_BLOCK=%d\necho '--- README.md line %d' >&2\n%s\n", b.line, b.line, b.text)
	}
	sh := exec.CommandContext(ctx, "bash", "-c", script.String())
	sh.Dir = dir
	sh.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TL=" + base, "README_TEST_DATABASE_URL=" + dbURL}
	start := time.Now()
	outb, err := sh.CombinedOutput()
	for _, l := range strings.Split(strings.TrimRight(string(outb), "\n"), "\n") {
		if len(l) > 300 {
			l = l[:300] + "..."
		}
		t.Log(l)
	}
	if err != nil {
		t.Fatalf("the README's shell blocks failed (%v) after %s; the output is above", err, time.Since(start).Round(time.Second))
	}
	t.Logf("the README's %d shell blocks ran in %s", len(blocks), time.Since(start).Round(time.Second))
}

// writeSelfSigned writes cert.pem and key.pem into dir, as make run's
// generate_cert.go does.
func writeSelfSigned(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "in.touchline-demo.test"},
		DNSNames: []string{"in.touchline-demo.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}
