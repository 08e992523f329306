// Package rsasigner signs with RSA private keys through the system's
// OpenSSL when it can, and through crypto/rsa otherwise.
//
// DKIM signs every message, and RSA-2048 is the key type every mailbox
// provider verifies. On this project's machines crypto/rsa takes about
// 0.85 ms per PKCS #1 v1.5 signature and OpenSSL 3 about 0.28 ms: at 500
// messages a second that is the difference between half a core and a
// seventh of one. OpenSSL's libcrypto.so.3 is loaded at run time
// (github.com/golang-fips/openssl, the binding Microsoft's and Red Hat's Go
// builds use), so the binary neither links it nor needs its headers; it is
// on any Debian or Ubuntu machine with PostgreSQL, curl or ssh. Where it
// cannot be loaded (no cgo in the build, no library, or
// TOUCHLINE_OPENSSL=off), crypto/rsa signs, and Backend says why.
//
// PKCS #1 v1.5 signatures are deterministic: both backends produce the same
// bytes for the same key and digest, which the tests check.
package rsasigner

import (
	"crypto"
	"crypto/rsa"
	"os"
	"strings"
)

// EnvOpenSSL set to "off" (or "0", "false") keeps signing in crypto/rsa.
const EnvOpenSSL = "TOUCHLINE_OPENSSL"

// New returns a signer for k: OpenSSL's when available, else k itself. The
// signer falls back to k for anything OpenSSL is not asked to do here (PSS,
// or a hash it does not take).
func New(k *rsa.PrivateKey) crypto.Signer {
	if s, err := newOpenSSL(k); err == nil {
		return s
	}
	return k
}

// Backend names what New signs with: "OpenSSL <version>", or "crypto/rsa
// (<why not OpenSSL>)".
func Backend() string {
	v, err := openSSL()
	if err != nil {
		return "crypto/rsa (" + err.Error() + ")"
	}
	return v
}

// disabled says whether TOUCHLINE_OPENSSL turns OpenSSL off.
func disabled() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvOpenSSL))) {
	case "off", "0", "false", "no":
		return true
	}
	return false
}
