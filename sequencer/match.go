package sequencer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/touchline/touchline/internal/inbound/classify"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer/message"
)

// Match is the touch a message that came back refers to, and how it was
// found.
type Match struct {
	// Touch is nil when nothing matched.
	Touch *store.TouchMatch
	// By is "verp", "unsubscribe-address", "in-reply-to" or "sender";
	// empty without a match.
	By string
	// Tried says, for people, each way that was tried and did not match,
	// in order (touchline classify prints it).
	Tried []string
}

// MatchTouch finds the touch a classified message refers to, in the order
// the Inbox uses (it calls this): among the envelope recipients, a
// List-Unsubscribe address or a VERP return path (their tokens verified
// with keys), then the Message-IDs the message reports on or
// answers (Result.OriginalMessageID, Result.References) against those
// Touchline sent, then - for anything but a bounce or a complaint, whose
// From is a mail system - the sender's address (from, lowercased) against
// the leads mailed. ws scopes every lookup to one workspace, or is
// store.AnyWorkspace.
//
// It only reads. A database error does not stop the search (the next way
// may still match); the errors are returned joined beside the result.
func MatchTouch(ctx context.Context, st *store.Store, keys MatchKeys, ws int64, envelopeTo []string, res classify.Result, from string) (Match, error) {
	verpKey := keys.VERP
	var m Match
	var errs []error
	found := func(tm store.TouchMatch, by string) (Match, error) {
		m.Touch, m.By = &tm, by
		return m, errors.Join(errs...)
	}
	lookupErr := func(err error) {
		if !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	switch {
	case len(envelopeTo) == 0:
		m.Tried = append(m.Tried, "verp: no envelope recipient")
	case len(verpKey) < message.MinKeyLen:
		m.Tried = append(m.Tried, "verp: no VERP key to check the envelope recipients with")
	}
	for _, rcpt := range envelopeTo {
		if tm, ok := unsubscribeAddress(ctx, st, keys.Unsubscribe, ws, rcpt); ok {
			return found(tm, "unsubscribe-address")
		}
		if len(verpKey) < message.MinKeyLen {
			continue
		}
		en, step, err := message.ParseReturnPath(verpKey, rcpt)
		if err != nil {
			m.Tried = append(m.Tried, "verp: "+strings.TrimPrefix(err.Error(), "message: "))
			continue
		}
		tm, err := st.FindTouchByEnrollmentStep(ctx, ws, en, step)
		if err == nil {
			return found(tm, "verp")
		}
		lookupErr(err)
		m.Tried = append(m.Tried, fmt.Sprintf("verp: %s names enrollment %d step %d, which does not exist%s", rcpt, en, step, matchScope(ws)))
	}
	ids := append([]string{res.OriginalMessageID}, res.References...)
	tm, err := st.FindTouchByMessageID(ctx, ws, ids)
	if err == nil {
		return found(tm, "in-reply-to")
	}
	lookupErr(err)
	var named []string
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(named, id) {
			named = append(named, id)
		}
	}
	if len(named) == 0 {
		m.Tried = append(m.Tried, "in-reply-to: the message names no Message-ID it answers or reports on")
	} else {
		m.Tried = append(m.Tried, fmt.Sprintf("in-reply-to: Touchline sent none of %s%s", strings.Join(named, " "), matchScope(ws)))
	}
	switch {
	case res.Class == classify.ClassBounce || res.Class == classify.ClassComplaint:
		m.Tried = append(m.Tried, "sender: not tried for a "+string(res.Class)+" (its sender is a mail system, not the lead)")
	case from == "":
		m.Tried = append(m.Tried, "sender: no From address")
	default:
		tm, err := st.FindLatestTouchToLead(ctx, ws, from)
		if err == nil {
			return found(tm, "sender")
		}
		lookupErr(err)
		m.Tried = append(m.Tried, fmt.Sprintf("sender: no touch was sent to %s%s", from, matchScope(ws)))
	}
	return m, errors.Join(errs...)
}

// MatchKeys are the server's keys that authenticate the tokens in the
// addresses it hands out: VERP return paths and List-Unsubscribe mailto:
// addresses (derived from --secret-key as serve derives them).
type MatchKeys struct {
	VERP, Unsubscribe []byte
}

// unsubscribeAddress reads the enrollment out of a List-Unsubscribe
// mailto: address, unsubscribe+TOKEN@ the bounce domain (see
// Engine.compose). The token's MAC is the evidence: whoever sends to it -
// the lead, or another address of theirs, as a mail client sends from
// the account it reads the lead's mail in - asks to unsubscribe the lead
// the token names (RFC 2369 §3.2; RFC 8058 §3.2 keeps the mailto:).
func unsubscribeAddress(ctx context.Context, st *store.Store, key []byte, ws int64, rcpt string) (store.TouchMatch, bool) {
	local, _, ok := strings.Cut(strings.Trim(strings.TrimSpace(rcpt), "<>"), "@")
	if !ok || len(key) == 0 {
		return store.TouchMatch{}, false
	}
	// Tokens are lowercase base32; some MTAs change the case of addresses.
	tok, ok := strings.CutPrefix(strings.ToLower(local), unsubscribeLocalPrefix)
	if !ok {
		return store.TouchMatch{}, false
	}
	tokWS, leadID, enrollmentID, err := message.ParseUnsubscribeToken(key, tok)
	if err != nil || (ws != store.AnyWorkspace && ws != tokWS) {
		return store.TouchMatch{}, false
	}
	tm, err := st.EnrollmentTouch(ctx, tokWS, enrollmentID)
	if err != nil || tm.LeadID != leadID {
		return store.TouchMatch{}, false
	}
	return tm, true
}

// matchScope says which workspace a failed lookup searched.
func matchScope(ws int64) string {
	if ws == store.AnyWorkspace {
		return ""
	}
	return fmt.Sprintf(" in workspace %d", ws)
}
