package verifier

import "time"

// Status is the headline answer for one address: may mail be sent to it?
type Status string

const (
	// Deliverable: a mail server responsible for the domain accepted the
	// recipient in a live RCPT probe and the domain is not a catch-all.
	Deliverable Status = "deliverable"
	// Undeliverable: mail to the address will bounce (bad syntax, no mail
	// server, mailbox rejected by a 5xx that is about the mailbox).
	Undeliverable Status = "undeliverable"
	// Risky: mail may be delivered but the answer is weak (catch-all domain,
	// full mailbox, disposable address).
	Risky Status = "risky"
	// Unknown: no trustworthy answer could be had (timeouts, DNS failures,
	// policy blocks, greylisting that outlasted the budget).
	Unknown Status = "unknown"
)

// Reason is the machine-readable cause of a Status.
type Reason string

const (
	ReasonAccepted        Reason = "accepted"
	ReasonMailboxNotFound Reason = "mailbox_not_found"
	ReasonMailboxDisabled Reason = "mailbox_disabled"
	ReasonMailboxFull     Reason = "mailbox_full"
	ReasonCatchAll        Reason = "catch_all"
	ReasonDisposable      Reason = "disposable"
	ReasonSyntax          Reason = "syntax"
	ReasonNoMailServer    Reason = "no_mail_server"
	ReasonMXPrivate       Reason = "mx_private_address"
	ReasonGreylisted      Reason = "greylisted"
	ReasonBlocked         Reason = "blocked"
	ReasonTimeout         Reason = "timeout"
	ReasonConnection      Reason = "connection_failed"
	ReasonDNSError        Reason = "dns_error"
	ReasonSMTPUTF8        Reason = "smtputf8_unsupported"
	ReasonTemporary       Reason = "temporary_failure"
	ReasonProtocol        Reason = "protocol_error"
)

// CatchAll is what the verifier learned about a domain accepting any
// local part.
type CatchAll string

const (
	CatchAllNotChecked   CatchAll = "not_checked"
	CatchAllAccepting    CatchAll = "accepting"
	CatchAllRejecting    CatchAll = "rejecting"
	CatchAllInconclusive CatchAll = "inconclusive"
)

// Reply is one SMTP server reply as it was received.
type Reply struct {
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced,omitempty"` // RFC 3463 "x.y.z", empty when absent
	Text     string `json:"text"`
}

// Verdict is the verifier's answer for one address, with its evidence.
type Verdict struct {
	Input        string        `json:"input"`
	Address      string        `json:"email_normalized"`
	Status       Status        `json:"status"`
	Reason       Reason        `json:"reason"`
	Detail       string        `json:"detail,omitempty"`
	MXHosts      []string      `json:"mx_hosts,omitempty"` // in the order tried
	Reply        *Reply        `json:"reply,omitempty"`    // the deciding reply
	StartTLS     bool          `json:"starttls"`
	Elapsed      time.Duration `json:"-"`
	ElapsedMS    int64         `json:"elapsed_ms"` // Elapsed in milliseconds
	RoleAccount  bool          `json:"role_account"`
	FreeProvider bool          `json:"free_provider"`
	Disposable   bool          `json:"disposable"`
	CatchAll     CatchAll      `json:"catch_all"`
	// DomainSPF and DomainDMARC say whether the domain publishes SPF and
	// DMARC: present, absent, invalid, or unknown when DNS failed. A domain
	// with MX, SPF and DMARC is a maintained mail domain; one with none is
	// often parked. Empty when the domain was not looked up.
	DomainSPF   string `json:"domain_spf,omitempty"`
	DomainDMARC string `json:"domain_dmarc,omitempty"`
}
