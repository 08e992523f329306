package dkimkey_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/touchline/touchline/internal/dkimkey"
)

// The Ed25519 key of RFC 8463 Appendix A.2 and its published record.
const (
	rfc8463Seed   = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
	rfc8463Record = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
)

func rfc8463Key(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed, err := base64.StdEncoding.DecodeString(rfc8463Seed)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// keys generates one key per type once; RSA-4096 takes seconds under -race.
var keys = map[dkimkey.Type]crypto.Signer{}

func TestMain(m *testing.M) {
	for _, typ := range dkimkey.Types {
		k, err := dkimkey.Generate(typ)
		if err != nil {
			panic(err)
		}
		keys[typ] = k
	}
	os.Exit(m.Run())
}

func TestGenerateMarshalParse(t *testing.T) {
	t.Parallel()
	for _, typ := range dkimkey.Types {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			k := keys[typ]
			switch k := k.(type) {
			case ed25519.PrivateKey:
				if typ != dkimkey.Ed25519 {
					t.Fatalf("%s made an ed25519 key", typ)
				}
			case *rsa.PrivateKey:
				if want := map[dkimkey.Type]int{dkimkey.RSA2048: 2048, dkimkey.RSA3072: 3072, dkimkey.RSA4096: 4096}[typ]; k.N.BitLen() != want {
					t.Fatalf("%s made a %d-bit key", typ, k.N.BitLen())
				}
			default:
				t.Fatalf("%s made a %T", typ, k)
			}
			pemBytes, err := dkimkey.MarshalPrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Fatalf("not PKCS#8 PEM:\n%s", pemBytes)
			}
			got, err := dkimkey.ParsePrivateKey(pemBytes)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
				t.Fatal("parsed key differs from the generated one")
			}
			// The parsed key signs what the original's public key verifies.
			digest := sha256.Sum256([]byte("message"))
			switch pub := k.Public().(type) {
			case ed25519.PublicKey:
				sig, err := got.Sign(rand.Reader, []byte("message"), crypto.Hash(0))
				if err != nil || !ed25519.Verify(pub, []byte("message"), sig) {
					t.Fatalf("ed25519 signature does not verify (%v)", err)
				}
			case *rsa.PublicKey:
				sig, err := got.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestGenerateUnknownType(t *testing.T) {
	t.Parallel()
	for _, typ := range []dkimkey.Type{"", "rsa", "rsa1024", "ecdsa", "ED25519 "} {
		if _, err := dkimkey.Generate(typ); !errors.Is(err, dkimkey.ErrUnknownType) {
			t.Errorf("Generate(%q) = %v, want ErrUnknownType", typ, err)
		}
	}
	if typ, err := dkimkey.ParseType(" Ed25519"); err != nil || typ != dkimkey.Ed25519 {
		t.Errorf("ParseType(Ed25519) = %q, %v", typ, err)
	}
	if _, err := dkimkey.ParseType("rsa1024"); !errors.Is(err, dkimkey.ErrUnknownType) || !strings.Contains(err.Error(), "rsa2048") {
		t.Errorf("ParseType(rsa1024) = %v, want ErrUnknownType listing the types", err)
	}
}

func TestParsePKCS1(t *testing.T) {
	t.Parallel()
	k := keys[dkimkey.RSA2048].(*rsa.PrivateKey)
	// As `openssl genrsa` (1.x) writes it, after the attributes that
	// `openssl pkcs12` puts before a block.
	pemBytes := append([]byte("Bag Attributes\n    localKeyID: 01\n"),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})...)
	got, err := dkimkey.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !got.(*rsa.PrivateKey).Equal(k) {
		t.Fatal("parsed key differs")
	}
}

func TestParsePrivateKeyErrors(t *testing.T) {
	t.Parallel()
	block := func(typ string, der []byte, headers map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der})
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPKCS8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := keys[dkimkey.RSA2048].(*rsa.PrivateKey)
	spki, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	good, err := dkimkey.MarshalPrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	goodDER, _ := pem.Decode(good)

	for _, tc := range []struct {
		name string
		in   []byte
		want error
		text string // in the message
	}{
		{"empty", nil, dkimkey.ErrNotPEM, "BEGIN PRIVATE KEY"},
		{"garbage", []byte("p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"), dkimkey.ErrNotPEM, ""},
		{"raw DER", goodDER.Bytes, dkimkey.ErrNotPEM, ""},
		{"public key", block("PUBLIC KEY", spki, nil), dkimkey.ErrNotPrivateKey, "PUBLIC KEY"},
		{"certificate", block("CERTIFICATE", []byte{0x30, 0}, nil), dkimkey.ErrNotPrivateKey, "CERTIFICATE"},
		{"unknown block", block("X509 CRL", []byte{0x30, 0}, nil), dkimkey.ErrNotPrivateKey, "X509 CRL"},
		{"encrypted PKCS#8", block("ENCRYPTED PRIVATE KEY", []byte{0x30, 0}, nil), dkimkey.ErrEncrypted, "openssl pkey"},
		{"encrypted PKCS#1", block("RSA PRIVATE KEY", []byte{1, 2, 3},
			map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}), dkimkey.ErrEncrypted, ""},
		{"EC key (SEC 1)", block("EC PRIVATE KEY", []byte{0x30, 0}, nil), dkimkey.ErrUnsupportedKey, "EC PRIVATE KEY"},
		{"EC key (PKCS#8)", block("PRIVATE KEY", ecPKCS8, nil), dkimkey.ErrUnsupportedKey, "ecdsa"},
		{"OpenSSH", block("OPENSSH PRIVATE KEY", []byte("openssh-key-v1\x00"), nil), dkimkey.ErrUnsupportedKey, "ssh-keygen"},
		{"corrupt PKCS#8", block("PRIVATE KEY", goodDER.Bytes[:100], nil), dkimkey.ErrMalformed, ""},
		{"corrupt PKCS#1", block("RSA PRIVATE KEY", []byte{0x30, 3, 2, 1, 0}, nil), dkimkey.ErrMalformed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := dkimkey.ParsePrivateKey(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParsePrivateKey = %T, %v; want %v", k, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not mention %q", err, tc.text)
			}
		})
	}
}

func TestMarshalRejectsOtherKeys(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dkimkey.MarshalPrivateKey(ecKey); !errors.Is(err, dkimkey.ErrUnsupportedKey) {
		t.Errorf("MarshalPrivateKey(ecdsa) = %v", err)
	}
	if _, err := dkimkey.TXTValue(ecKey.Public()); !errors.Is(err, dkimkey.ErrUnsupportedKey) {
		t.Errorf("TXTValue(ecdsa) = %v", err)
	}
	// RFC 8301 §3.2: verifiers refuse RSA keys under 1024 bits.
	weak := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 511), E: 65537}
	if _, err := dkimkey.TXTValue(weak); !errors.Is(err, dkimkey.ErrWeakKey) {
		t.Errorf("TXTValue(512-bit RSA) = %v", err)
	}
}

func TestTXTValue(t *testing.T) {
	t.Parallel()
	// RFC 8463 Appendix A.2.
	v, err := dkimkey.TXTValue(rfc8463Key(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	if v != rfc8463Record {
		t.Errorf("ed25519 record\n got %s\nwant %s", v, rfc8463Record)
	}

	for _, typ := range []dkimkey.Type{dkimkey.RSA2048, dkimkey.RSA3072, dkimkey.RSA4096} {
		k := keys[typ]
		v, err := dkimkey.TXTValue(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		p, ok := strings.CutPrefix(v, "v=DKIM1; k=rsa; p=")
		if !ok {
			t.Fatalf("%s record %q", typ, v)
		}
		der, err := base64.StdEncoding.DecodeString(p)
		if err != nil {
			t.Fatal(err)
		}
		// RFC 6376 §3.6.1: p= is a SubjectPublicKeyInfo, not a bare PKCS#1 key.
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			t.Fatalf("%s: p= is not SPKI: %v", typ, err)
		}
		if !pub.(*rsa.PublicKey).Equal(k.Public()) {
			t.Errorf("%s: p= holds another key", typ)
		}
	}
}

func TestRecordName(t *testing.T) {
	t.Parallel()
	for _, tc := range [][3]string{
		{"s1", "example.com", "s1._domainkey.example.com"},
		{"s1", "example.com.", "s1._domainkey.example.com"},
		{"2025.eu", "mail.example.co.uk", "2025.eu._domainkey.mail.example.co.uk"},
	} {
		if got := dkimkey.RecordName(tc[0], tc[1]); got != tc[2] {
			t.Errorf("RecordName(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestZoneLine(t *testing.T) {
	t.Parallel()
	line, err := dkimkey.ZoneLine("brisbane", "football.example.com", rfc8463Key(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	if want := `brisbane._domainkey.football.example.com. 3600 IN TXT "` + rfc8463Record + `"`; line != want {
		t.Errorf("ed25519 zone line\n got %s\nwant %s", line, want)
	}

	for _, typ := range dkimkey.Types {
		t.Run(string(typ), func(t *testing.T) {
			pub := keys[typ].Public()
			line, err := dkimkey.ZoneLine("s1", "example.com", pub)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := dkimkey.TXTValue(pub)
			// Read it back as a name server would load it.
			rr, err := dns.NewRR(line)
			if err != nil {
				t.Fatalf("zone line does not parse: %v\n%s", err, line)
			}
			txt := rr.(*dns.TXT)
			if txt.Hdr.Name != "s1._domainkey.example.com." || txt.Hdr.Ttl != dkimkey.TTL || txt.Hdr.Class != dns.ClassINET {
				t.Errorf("header %s", txt.Hdr.String())
			}
			for _, s := range txt.Txt {
				if len(s) > 255 {
					t.Errorf("string of %d octets", len(s))
				}
			}
			if got := strings.Join(txt.Txt, ""); got != want {
				t.Errorf("strings join to\n%s\nwant\n%s", got, want)
			}
			if typ != dkimkey.Ed25519 {
				if len(txt.Txt) < 2 || txt.Txt[0] != "v=DKIM1; k=rsa; " {
					t.Errorf("RSA record split as %q", txt.Txt)
				}
			} else if len(txt.Txt) != 1 {
				t.Errorf("ed25519 record split as %q", txt.Txt)
			}
		})
	}
}

func TestTXTStrings(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("A", 700)
	for _, in := range []string{
		"",
		"v=DKIM1; p=",
		strings.Repeat("x", 255),
		strings.Repeat("x", 256),
		"v=DKIM1; k=rsa; p=" + long,
		"v=DKIM1; k=rsa; t=s; n=" + strings.Repeat("n", 300) + "; p=" + long, // p= past the first 255
		"v=DKIM1; k=rsa; p=" + strings.Repeat("A", 237),                      // exactly 255
	} {
		ss := dkimkey.TXTStrings(in)
		for _, s := range ss {
			if len(s) > 255 || (len(s) == 0 && in != "") {
				t.Errorf("TXTStrings(%d octets): string of %d", len(in), len(s))
			}
		}
		if got := strings.Join(ss, ""); got != in {
			t.Errorf("TXTStrings(%d octets) loses text", len(in))
		}
		if len(in) <= 255 && len(ss) != 1 {
			t.Errorf("TXTStrings(%d octets) split needlessly: %q", len(in), ss)
		}
	}
}

func TestValidSelector(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sel string
		ok  bool
	}{
		{"s1", true},
		{"brisbane", true},
		{"google", true},
		{"selector1", true},
		{"2025-01", true},
		{"k1.eu-west", true},    // RFC 6376 §3.1 allows dots
		{"Sel1", true},          // case does not matter in DNS
		{"xn--bcher-kva", true}, // an A-label
		{strings.Repeat("a", 63), true},
		{"", false},
		{".s1", false},
		{"s1.", false},
		{"a..b", false},
		{"-s1", false},
		{"s1-", false},
		{"s_1", false},
		{"s 1", false},
		{"s1@x", false},
		{"_domainkey", false},
		{"bücher", false},
		{strings.Repeat("a", 64), false},
		{strings.Repeat("a.", 120) + "a", false}, // name too long once the domain is added
	} {
		err := dkimkey.ValidSelector(tc.sel)
		if (err == nil) != tc.ok {
			t.Errorf("ValidSelector(%q) = %v, want ok=%v", tc.sel, err, tc.ok)
		}
		if err != nil && !errors.Is(err, dkimkey.ErrInvalidSelector) {
			t.Errorf("ValidSelector(%q) = %v, not ErrInvalidSelector", tc.sel, err)
		}
		if tc.sel == "bücher" && err != nil && !strings.Contains(err.Error(), "A-label") {
			t.Errorf("ValidSelector(bücher) = %v, want a hint about A-labels", err)
		}
	}
}

func TestNormalizeDomain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"example.com", "example.com"},
		{"Example.COM.", "example.com"},
		{" mail.example.co.uk ", "mail.example.co.uk"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"BÜCHER.example", "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"例え.テスト", "xn--r8jz45g.xn--zckzah"},
		{"123.example", "123.example"},
		{"", ""},
		{".", ""},
		{"localhost", ""},
		{"example..com", ""},
		{".example.com", ""},
		{"exa mple.com", ""},
		{"under_score.com", ""},
		{"-bad.com", ""},
		{"192.0.2.1", ""},
		{"[192.0.2.1]", ""},
		{"jane@example.com", ""},
		{strings.Repeat("a", 64) + ".com", ""},
	} {
		got, err := dkimkey.NormalizeDomain(tc.in)
		if tc.want == "" {
			if !errors.Is(err, dkimkey.ErrInvalidDomain) {
				t.Errorf("NormalizeDomain(%q) = %q, %v; want ErrInvalidDomain", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestWriteKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "s1._domainkey.example.com.key")
	k1, k2 := keys[dkimkey.Ed25519], keys[dkimkey.RSA2048]

	if err := dkimkey.WriteKeyFile(path, k1, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("mode %v, want -rw-------", fi.Mode())
	}
	if err := dkimkey.WriteKeyFile(path, k2, false); !errors.Is(err, dkimkey.ErrExists) {
		t.Fatalf("second write = %v, want ErrExists", err)
	}
	got, err := dkimkey.ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.(ed25519.PrivateKey).Equal(k1) {
		t.Fatal("refused write changed the file")
	}
	if err := dkimkey.WriteKeyFile(path, k2, true); err != nil {
		t.Fatal(err)
	}
	if got, err = dkimkey.ReadKeyFile(path); err != nil || !got.(*rsa.PrivateKey).Equal(k2) {
		t.Fatalf("overwrite: %T, %v", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode() != 0o600 {
		t.Errorf("mode after overwrite %v", fi.Mode())
	}
	// No temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want the key only", len(ents))
	}

	if err := dkimkey.WriteKeyFile(filepath.Join(dir, "missing", "k.key"), k1, false); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	if _, err := dkimkey.ReadKeyFile(filepath.Join(dir, "nope.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadKeyFile(missing) = %v", err)
	}
}

func FuzzParsePrivateKey(f *testing.F) {
	for _, typ := range []dkimkey.Type{dkimkey.Ed25519, dkimkey.RSA2048} {
		b, err := dkimkey.MarshalPrivateKey(keys[typ])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := dkimkey.ParsePrivateKey(in)
		if err != nil {
			return
		}
		// Whatever parses can be stored and published.
		if _, err := dkimkey.MarshalPrivateKey(k); err != nil {
			t.Fatalf("parsed key does not marshal: %v", err)
		}
		if _, err := dkimkey.TXTValue(k.Public()); err != nil {
			t.Fatalf("parsed key has no record: %v", err)
		}
	})
}

func FuzzValidSelector(f *testing.F) {
	for _, s := range []string{"s1", "k1.eu-west", "-x", "a..b", "bücher"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if dkimkey.ValidSelector(s) != nil {
			return
		}
		name := dkimkey.RecordName(s, "example.com") + "."
		if _, ok := dns.IsDomainName(name); !ok {
			t.Fatalf("valid selector %q makes a bad name %q", s, name)
		}
	})
}
