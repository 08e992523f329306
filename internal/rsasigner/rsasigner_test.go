package rsasigner

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // the hashes the tests sign with
	_ "crypto/sha256"
	_ "crypto/sha512"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/touchline/touchline/internal/pgtest"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func key2048(t testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		testKey = k
	})
	return testKey
}

// requireOpenSSL skips where OpenSSL cannot be loaded, but fails in CI on a
// machine that has the library: there the fast path must work.
func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := openSSL(); err != nil {
		_, statErr := os.Stat("/usr/lib/x86_64-linux-gnu/libcrypto.so.3")
		if pgtest.InCI() && statErr == nil && canLoad && !disabled() {
			t.Fatalf("libcrypto.so.3 is installed but not used: %v", err)
		}
		t.Skipf("no OpenSSL here: %v", err)
	}
}

// TestSameSignatures: OpenSSL's PKCS #1 v1.5 signatures are crypto/rsa's,
// byte for byte, for every hash it signs, and they verify.
func TestSameSignatures(t *testing.T) {
	requireOpenSSL(t)
	k := key2048(t)
	s := New(k)
	if _, ok := s.(*rsa.PrivateKey); ok {
		t.Fatalf("New returned the Go key; Backend says %s", Backend())
	}
	if !strings.HasPrefix(Backend(), "OpenSSL 3") {
		t.Fatalf("Backend() = %q, want OpenSSL 3.x", Backend())
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA1, crypto.SHA384, crypto.SHA512} {
		for _, msg := range []string{"", "DKIM-Signature: v=1; a=rsa-sha256", strings.Repeat("x", 10000)} {
			hh := h.New()
			hh.Write([]byte(msg))
			d := hh.Sum(nil)
			got, err := s.Sign(rand.Reader, d, h)
			if err != nil {
				t.Fatalf("%v: %v", h, err)
			}
			want, err := rsa.SignPKCS1v15(nil, k, h, d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%v over %d bytes: OpenSSL and crypto/rsa disagree", h, len(msg))
			}
			if err := rsa.VerifyPKCS1v15(s.Public().(*rsa.PublicKey), h, d, got); err != nil {
				t.Fatalf("%v: %v", h, err)
			}
		}
	}
}

// TestOtherSchemesStayInGo: PSS, and hashes OpenSSL is not asked for, are
// crypto/rsa's; a digest of the wrong size is an error, not a signature.
func TestOtherSchemesStayInGo(t *testing.T) {
	k := key2048(t)
	s := New(k)
	d := crypto.SHA256.New().Sum(nil)
	sig, err := s.Sign(rand.Reader, d, &rsa.PSSOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, d, sig, nil); err != nil {
		t.Fatalf("PSS signature does not verify: %v", err)
	}
	d224 := crypto.SHA224.New().Sum(nil)
	sig, err = s.Sign(rand.Reader, d224, crypto.SHA224)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA224, d224, sig); err != nil {
		t.Fatalf("SHA-224 signature does not verify: %v", err)
	}
	if _, err := s.Sign(rand.Reader, d[:20], crypto.SHA256); err == nil {
		t.Fatal("a 20-byte digest signed as SHA-256")
	}
}

// TestOffKeepsCryptoRSA: TOUCHLINE_OPENSSL=off, read once at first use, is
// checked in a child process.
func TestOffKeepsCryptoRSA(t *testing.T) {
	if os.Getenv("RSASIGNER_CHILD") == "1" {
		if _, ok := New(key2048(t)).(*rsa.PrivateKey); !ok {
			t.Fatal("OpenSSL used although " + EnvOpenSSL + "=off")
		}
		if b := Backend(); b != "crypto/rsa ("+EnvOpenSSL+" is off)" {
			t.Fatalf("Backend() = %q", b)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestOffKeepsCryptoRSA$", "-test.v")
	cmd.Env = append(os.Environ(), "RSASIGNER_CHILD=1", EnvOpenSSL+"=off")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestOffKeepsCryptoRSA") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// BenchmarkSign: one DKIM signature (RSA-2048, SHA-256) per op.
//
//	go test -run '^$' -bench Sign ./internal/rsasigner
func BenchmarkSign(b *testing.B) {
	k := key2048(b)
	d := crypto.SHA256.New().Sum(nil)
	for _, bc := range []struct {
		name string
		s    crypto.Signer
	}{{"backend=crypto-rsa", k}, {"backend=openssl", New(k)}} {
		b.Run(bc.name, func(b *testing.B) {
			if _, ok := bc.s.(*rsa.PrivateKey); ok && bc.name == "backend=openssl" {
				b.Skip(Backend())
			}
			for b.Loop() {
				if _, err := bc.s.Sign(nil, d, crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
