// Package sequencer will schedule multi-touch outbound cadences as River jobs
// on PostgreSQL and send their emails over SMTP with DKIM, within sending
// windows and per-mailbox caps. It is built on the verifier (no touch to an
// address known to bounce) and the server's store; see the project's open
// issues for its contract. Nothing is implemented here yet.
package sequencer
