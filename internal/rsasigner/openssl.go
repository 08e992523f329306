//go:build cgo && unix

package rsasigner

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"

	openssl "github.com/golang-fips/openssl/v2"
	"github.com/golang-fips/openssl/v2/bbig"
)

// canLoad: this build can load libcrypto.
const canLoad = true

// libcrypto is the OpenSSL 3 library's soname.
const libcrypto = "libcrypto.so.3"

var (
	loadOnce sync.Once
	loaded   string // "OpenSSL <version>"
	loadErr  error
)

// openSSL loads libcrypto once and says which version it is.
func openSSL() (string, error) {
	loadOnce.Do(func() {
		if disabled() {
			loadErr = errors.New(EnvOpenSSL + " is off")
			return
		}
		if err := openssl.Init(libcrypto); err != nil {
			loadErr = fmt.Errorf("%s not loaded: %w", libcrypto, err)
			return
		}
		loaded = openssl.VersionText()
	})
	return loaded, loadErr
}

// key signs PKCS #1 v1.5 with OpenSSL; anything else goes to the Go key.
type key struct {
	ossl *openssl.PrivateKeyRSA
	k    *rsa.PrivateKey
}

func newOpenSSL(k *rsa.PrivateKey) (crypto.Signer, error) {
	if _, err := openSSL(); err != nil {
		return nil, err
	}
	if len(k.Primes) != 2 {
		return nil, errors.New("rsasigner: multi-prime keys stay with crypto/rsa")
	}
	k.Precompute()
	pc := k.Precomputed
	if pc.Dp == nil || pc.Dq == nil || pc.Qinv == nil {
		return nil, errors.New("rsasigner: key without CRT values")
	}
	ok, err := openssl.NewPrivateKeyRSA(bbig.Enc(k.N), bbig.Enc(big.NewInt(int64(k.E))), bbig.Enc(k.D),
		bbig.Enc(k.Primes[0]), bbig.Enc(k.Primes[1]), bbig.Enc(pc.Dp), bbig.Enc(pc.Dq), bbig.Enc(pc.Qinv))
	if err != nil {
		return nil, err
	}
	return &key{ossl: ok, k: k}, nil
}

func (s *key) Public() crypto.PublicKey { return &s.k.PublicKey }

// Sign implements crypto.Signer: PKCS #1 v1.5 over a SHA-256 (or SHA-1,
// SHA-384, SHA-512) digest in OpenSSL, the rest, and whatever OpenSSL
// refuses, in crypto/rsa.
func (s *key) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, pss := opts.(*rsa.PSSOptions); pss {
		return s.k.Sign(rand, digest, opts)
	}
	switch h := opts.HashFunc(); h {
	case crypto.SHA256, crypto.SHA1, crypto.SHA384, crypto.SHA512:
		if len(digest) != h.Size() {
			return nil, fmt.Errorf("rsasigner: %d-byte digest for %v", len(digest), h)
		}
		if sig, err := openssl.SignRSAPKCS1v15(s.ossl, h, digest); err == nil {
			return sig, nil
		}
		// OpenSSL refused (a FIPS provider refuses SHA-1 and small keys,
		// say): crypto/rsa signs it, the same bytes it would have given.
	}
	return s.k.Sign(rand, digest, opts)
}
