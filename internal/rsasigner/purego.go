//go:build !(cgo && unix)

package rsasigner

import (
	"crypto"
	"crypto/rsa"
	"errors"
)

// canLoad: this build has no way to load libcrypto.
const canLoad = false

func openSSL() (string, error) {
	if disabled() {
		return "", errors.New(EnvOpenSSL + " is off")
	}
	return "", errors.New("built without cgo")
}

func newOpenSSL(*rsa.PrivateKey) (crypto.Signer, error) {
	_, err := openSSL()
	return nil, err
}
