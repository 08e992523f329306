package store

import "fmt"

// NotFoundError names what a request pointed at that the workspace does
// not have: "mailbox 7 not found" tells the caller which of the IDs it
// sent is wrong, where a bare ErrNotFound left it to guess. It matches
// ErrNotFound under errors.Is.
type NotFoundError struct {
	Resource string // "mailbox", "list", "lead", ...
	ID       int64
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %d not found in this workspace", e.Resource, e.ID)
}

// Is makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }
