// Package dkimkey makes, stores and publishes the keys that sign outgoing
// mail with DKIM (RFC 6376), for `touchline dkim keygen` and for the
// sequencer, which signs with go-msgauth's dkim.Sign and the crypto.Signer
// this package returns.
//
// Keys are RSA (RFC 6376 §3.3.1; 2048 bits by default, RFC 8301 §3.2 sets
// 1024 as the floor a verifier accepts) or Ed25519 (RFC 8463). RSA is the
// default because every receiver verifies it; Ed25519 keys and signatures
// are far smaller but some receivers still ignore them, so a domain that
// wants Ed25519 publishes it beside an RSA key under a second selector and
// signs with both.
//
//   - [Generate] makes a key of a [Type]; [ParseType] reads a type name.
//   - [MarshalPrivateKey] stores it as PEM-encoded PKCS#8 ("PRIVATE KEY");
//     [ParsePrivateKey] reads that, and PKCS#1 ("RSA PRIVATE KEY") as
//     OpenSSL and older tools write it. Encrypted keys, other PEM types and
//     keys DKIM cannot use are refused with errors that say so.
//   - [WriteKeyFile] writes a key file with mode 0600, atomically, and
//     refuses to replace an existing file unless told to; [ReadKeyFile]
//     reads one.
//   - [TXTValue], [RecordName] and [ZoneLine] give the key record to
//     publish at selector._domainkey.domain (RFC 6376 §3.6.1, §3.6.2.1),
//     the zone-file line splitting the value into character-strings of at
//     most 255 octets (RFC 1035 §3.3.14, RFC 6376 §3.6.2.2).
//   - [ValidSelector] and [NormalizeDomain] check the names the record is
//     published under.
//
// Errors wrap the sentinels below; test them with errors.Is.
package dkimkey

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Type is a kind of DKIM key.
type Type string

// The key types Generate makes.
const (
	Ed25519 Type = "ed25519" // RFC 8463
	RSA2048 Type = "rsa2048" // the default: verified everywhere
	RSA3072 Type = "rsa3072"
	RSA4096 Type = "rsa4096"
)

// Types lists the key types, the default first.
var Types = []Type{RSA2048, RSA3072, RSA4096, Ed25519}

// Sentinel errors.
var (
	ErrUnknownType     = errors.New("dkimkey: unknown key type")
	ErrUnsupportedKey  = errors.New("dkimkey: key type not usable for DKIM")
	ErrWeakKey         = errors.New("dkimkey: RSA key shorter than 1024 bits")
	ErrNotPEM          = errors.New("dkimkey: no PEM block")
	ErrNotPrivateKey   = errors.New("dkimkey: not a private key")
	ErrEncrypted       = errors.New("dkimkey: private key is encrypted")
	ErrMalformed       = errors.New("dkimkey: malformed private key")
	ErrInvalidSelector = errors.New("dkimkey: invalid selector")
	ErrInvalidDomain   = errors.New("dkimkey: invalid domain")
	ErrExists          = errors.New("dkimkey: file exists")
)

// ParseType returns the Type named s (case-insensitive).
func ParseType(s string) (Type, error) {
	t := Type(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Types {
		if t == k {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w %q (want one of %s)", ErrUnknownType, s, typeList())
}

func typeList() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func (t Type) rsaBits() int {
	switch t {
	case RSA2048:
		return 2048
	case RSA3072:
		return 3072
	case RSA4096:
		return 4096
	}
	return 0
}

// Generate makes a new key of type t from crypto/rand. The result is an
// ed25519.PrivateKey or an *rsa.PrivateKey.
func Generate(t Type) (crypto.Signer, error) {
	if t == Ed25519 {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("dkimkey: generate ed25519 key: %w", err)
		}
		return k, nil
	}
	bits := t.rsaBits()
	if bits == 0 {
		return nil, fmt.Errorf("%w %q (want one of %s)", ErrUnknownType, string(t), typeList())
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("dkimkey: generate RSA-%d key: %w", bits, err)
	}
	return k, nil
}

// checkKey accepts the keys DKIM signs with and returns them in the form
// go-msgauth expects (ed25519.PrivateKey by value).
func checkKey(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		// RFC 8301 §3.2: verifiers must treat signatures by shorter keys
		// as invalid, so signing with one would only look like it works.
		if n := k.N.BitLen(); n < 1024 {
			return nil, fmt.Errorf("%w (%d bits)", ErrWeakKey, n)
		}
		return k, nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: ed25519 key of %d bytes", ErrMalformed, len(k))
		}
		return k, nil
	case *ed25519.PrivateKey:
		if k == nil {
			return nil, fmt.Errorf("%w: nil key", ErrUnsupportedKey)
		}
		return checkKey(*k)
	case nil:
		return nil, fmt.Errorf("%w: nil key", ErrUnsupportedKey)
	}
	return nil, fmt.Errorf("%w: %T (DKIM signs with RSA, RFC 6376, or Ed25519, RFC 8463)", ErrUnsupportedKey, k)
}

// MarshalPrivateKey encodes k as a PEM "PRIVATE KEY" block (PKCS#8,
// RFC 5208), the form OpenSSL 1.1+ and most tools read.
func MarshalPrivateKey(k crypto.Signer) ([]byte, error) {
	s, err := checkKey(k)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		return nil, fmt.Errorf("dkimkey: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey decodes the first PEM block of pemBytes: PKCS#8
// ("PRIVATE KEY") holding an RSA or Ed25519 key, or PKCS#1 ("RSA PRIVATE
// KEY"). Text before the block, as OpenSSL's "Bag Attributes", is skipped.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("%w: want a file that starts with -----BEGIN PRIVATE KEY-----", ErrNotPEM)
	}
	var (
		k   any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		// RFC 1421 encryption headers, as `openssl genrsa -aes256` writes.
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, fmt.Errorf("%w: decrypt it first (openssl pkey -in FILE -out PLAIN)", ErrEncrypted)
		}
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("%w: decrypt it first (openssl pkey -in FILE -out PLAIN)", ErrEncrypted)
	case "EC PRIVATE KEY", "DSA PRIVATE KEY":
		return nil, fmt.Errorf("%w: %s (DKIM signs with RSA or Ed25519)", ErrUnsupportedKey, block.Type)
	case "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("%w: OpenSSH format; convert it with ssh-keygen -p -m PKCS8 -f FILE", ErrUnsupportedKey)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("%w: PEM block is a %s", ErrNotPrivateKey, block.Type)
	default:
		return nil, fmt.Errorf("%w: PEM block type %q (want PRIVATE KEY or RSA PRIVATE KEY)", ErrNotPrivateKey, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, block.Type, err)
	}
	return checkKey(k)
}
