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
	// By is "verp", "in-reply-to" or "sender"; empty without a match.
	By string
	// Tried says, for people, each way that was tried and did not match,
	// in order (touchline classify prints it).
	Tried []string
}

// MatchTouch finds the touch a classified message refers to, in the order
// the Inbox documents: a VERP return path among the envelope recipients
// (verified with verpKey), then the Message-IDs the message reports on or
// answers (Result.OriginalMessageID, Result.References) against those
// Touchline sent, then - for anything but a bounce or a complaint, whose
// From is a mail system - the sender's address (from, lowercased) against
// the leads mailed. ws scopes every lookup to one workspace (0: any).
//
// It only reads. A database error does not stop the search (the next way
// may still match); the errors are returned joined beside the result.
func MatchTouch(ctx context.Context, st *store.Store, verpKey []byte, ws int64, envelopeTo []string, res classify.Result, from string) (Match, error) {
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
		if len(verpKey) < message.MinKeyLen {
			break
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

// matchScope says which workspace a failed lookup searched.
func matchScope(ws int64) string {
	if ws == 0 {
		return ""
	}
	return fmt.Sprintf(" in workspace %d", ws)
}
