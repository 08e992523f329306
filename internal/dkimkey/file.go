package dkimkey

import (
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteKeyFile writes k to path as MarshalPrivateKey encodes it, with mode
// 0600. The file appears whole or not at all: the key goes to a temporary
// file in the same directory, which is synced and then moved into place.
// Without overwrite an existing path is left alone and the error wraps
// ErrExists; the check is the link that puts the file in place, so two
// writers racing for one path cannot both win.
func WriteKeyFile(path string, k crypto.Signer, overwrite bool) (err error) {
	data, err := MarshalPrivateKey(k)
	if err != nil {
		return err
	}
	if !overwrite {
		// Fail before the work of writing; the link below is the real test.
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%w: %s", ErrExists, path)
		}
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("dkimkey: write key: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; say so in case that ever changes.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("dkimkey: write key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("dkimkey: write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("dkimkey: write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dkimkey: write key: %w", err)
	}
	if overwrite {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("dkimkey: write key: %w", err)
		}
	} else {
		// link(2) fails if path exists, where rename(2) would replace it.
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%w: %s", ErrExists, path)
			}
			return fmt.Errorf("dkimkey: write key: %w", err)
		}
		os.Remove(tmp)
	}
	// Make the new directory entry durable too; not every file system
	// allows syncing a directory, and the key is in place either way.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ReadKeyFile reads a private key file as ParsePrivateKey does.
func ReadKeyFile(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dkimkey: %w", err)
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}
