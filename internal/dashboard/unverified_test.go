package dashboard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/touchline/touchline/internal/store"
)

// TestUnverifiedRepliesMarked: a reply matched by its sender's address
// only, without evidence (issue 13), is marked unverified in the latest
// replies, for a person to confirm; the others are not.
func TestUnverifiedRepliesMarked(t *testing.T) {
	t.Parallel()
	r := newHandlerRig(t, false, testSessionKey)
	ws, key := r.workspace("acme")
	verified := r.inbound(ws.ID, "Jane <jane@acme.test>", "human_reply", "Sounds good")
	var unverified int64
	err := r.st.InTx(context.Background(), func(tx pgx.Tx) error {
		var err error
		unverified, _, err = r.st.InsertInbound(context.Background(), tx, store.InboundRecord{Workspace: &ws.ID, Source: "smtp", EnvelopeTo: []string{},
			MessageID: fmt.Sprintf("<%d@test>", time.Now().UnixNano()), Raw: []byte("From: jane@acme.test\r\nSubject: Re: hi\r\n\r\nRemove me\r\n"),
			Class: "unsubscribe", Rule: "unsub:body", MatchedBy: "sender", Unverified: true, Detail: map[string]any{"snippet": "Remove me"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, body := r.do("GET", "/", nil, r.signIn(key))
	ids := testids(body)
	if ids[fmt.Sprintf("inbound-%d-unverified", unverified)] != "unverified" {
		t.Errorf("the unverified unsubscribe is not marked: %v", ids)
	}
	if _, ok := ids[fmt.Sprintf("inbound-%d-unverified", verified)]; ok {
		t.Error("a reply with no evidence problem is marked unverified")
	}
}
