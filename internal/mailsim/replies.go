package mailsim

import (
	"fmt"
	"strings"
	"time"
)

// replyCtx is what a style may quote in a reply.
type replyCtx struct {
	host   string // the simulated host's name
	helo   string // the client's EHLO/HELO argument
	ip     string // the client's IP
	from   string // MAIL FROM address
	rcpt   string // RCPT TO address
	domain string // the recipient's domain
	id     string // a per-connection token, as providers put in replies
}

// style is the wording of one kind of mail server. The texts are those the
// servers send in the field (from published bounces and Postfix, Exim and
// Exchange sources); codes and enhanced codes are kept as they send them,
// even where two providers disagree on the class of the same condition
// (a full mailbox is 452 4.2.2 at Gmail and 552 5.2.2 at Postfix).
type style struct {
	banner   func(c replyCtx) string // the greeting, after "220 "
	ehlo     func(c replyCtx) string // the first line of the EHLO reply
	size     int                     // advertised SIZE
	mailOK   func(c replyCtx) Reply
	rcptOK   func(c replyCtx) Reply
	unknown  func(c replyCtx) Reply // no such mailbox
	full     func(c replyCtx) Reply
	disabled func(c replyCtx) Reply
	relay    func(c replyCtx) Reply // a domain the host does not serve
	greylist func(c replyCtx) Reply
	queued   func(c replyCtx) Reply // DATA accepted
}

// gmailLines builds Gmail's multi-line replies, which repeat the enhanced
// code on every line and end with a help link and the " - gsmtp" token.
func gmailLines(code int, enh string, link string, c replyCtx, lines ...string) Reply {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(enh + " " + l + "\n")
	}
	b.WriteString(fmt.Sprintf("%s  %s %s - gsmtp", enh, link, c.id))
	return Reply{code, b.String()}
}

var styles = map[string]style{
	"postfix": {
		banner: func(c replyCtx) string { return c.host + " ESMTP Postfix" },
		ehlo:   func(c replyCtx) string { return c.host },
		size:   10240000,
		mailOK: func(replyCtx) Reply { return Reply{250, "2.1.0 Ok"} },
		rcptOK: func(replyCtx) Reply { return Reply{250, "2.1.5 Ok"} },
		unknown: func(c replyCtx) Reply {
			return Reply{550, fmt.Sprintf("5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table", c.rcpt)}
		},
		full: func(c replyCtx) Reply {
			return Reply{552, fmt.Sprintf("5.2.2 <%s>: Recipient address rejected: Mailbox full", c.rcpt)}
		},
		disabled: func(c replyCtx) Reply {
			return Reply{550, fmt.Sprintf("5.2.1 <%s>: Recipient address rejected: Mailbox disabled", c.rcpt)}
		},
		relay: func(c replyCtx) Reply {
			return Reply{554, fmt.Sprintf("5.7.1 <%s>: Relay access denied", c.rcpt)}
		},
		// Postgrey behind Postfix, as it answers by default.
		greylist: func(c replyCtx) Reply {
			return Reply{450, fmt.Sprintf("4.2.0 <%s>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/%s.html", c.rcpt, c.domain)}
		},
		queued: func(c replyCtx) Reply { return Reply{250, "2.0.0 Ok: queued as " + strings.ToUpper(c.id[:10])} },
	},
	"exim": {
		banner: func(c replyCtx) string {
			return c.host + " ESMTP Exim 4.97 " + time.Now().UTC().Format(time.RFC1123Z)
		},
		ehlo:    func(c replyCtx) string { return fmt.Sprintf("%s Hello %s [%s]", c.host, c.helo, c.ip) },
		size:    52428800,
		mailOK:  func(replyCtx) Reply { return Reply{250, "OK"} },
		rcptOK:  func(replyCtx) Reply { return Reply{250, "Accepted"} },
		unknown: func(replyCtx) Reply { return Reply{550, "No Such User Here"} },
		full: func(c replyCtx) Reply {
			return Reply{452, fmt.Sprintf("<%s>: mailbox is full", c.rcpt)}
		},
		disabled: func(c replyCtx) Reply {
			return Reply{550, fmt.Sprintf("<%s>: account is disabled", c.rcpt)}
		},
		relay: func(replyCtx) Reply { return Reply{550, "relay not permitted"} },
		// greylistd's recommended Exim ACL message.
		greylist: func(c replyCtx) Reply {
			return Reply{451, fmt.Sprintf("%s is not yet authorized to deliver mail from <%s> to <%s>. Please try later.", c.ip, c.from, c.rcpt)}
		},
		queued: func(c replyCtx) Reply { return Reply{250, "OK id=" + c.id[:6] + "-" + c.id[6:12] + "-" + c.id[12:14]} },
	},
	"gmail": {
		banner: func(c replyCtx) string { return fmt.Sprintf("%s ESMTP %s - gsmtp", c.host, c.id) },
		ehlo:   func(c replyCtx) string { return fmt.Sprintf("%s at your service, [%s]", c.host, c.ip) },
		size:   157286400,
		mailOK: func(c replyCtx) Reply { return Reply{250, "2.1.0 OK " + c.id + " - gsmtp"} },
		rcptOK: func(c replyCtx) Reply { return Reply{250, "2.1.5 OK " + c.id + " - gsmtp"} },
		unknown: func(c replyCtx) Reply {
			return gmailLines(550, "5.1.1", "https://support.google.com/mail/?p=NoSuchUser", c,
				"The email account that you tried to reach does not exist. Please try",
				"double-checking the recipient's email address for typos or",
				"unnecessary spaces. For more information, go to")
		},
		full: func(c replyCtx) Reply {
			return gmailLines(452, "4.2.2", "https://support.google.com/mail/?p=OverQuotaTemp", c,
				"The recipient's inbox is out of storage space. Please direct the",
				"recipient to")
		},
		disabled: func(c replyCtx) Reply {
			return gmailLines(550, "5.2.1", "https://support.google.com/mail/?p=DisabledUser", c,
				"The email account that you tried to reach is disabled. Learn more at")
		},
		relay: func(c replyCtx) Reply {
			return Reply{550, fmt.Sprintf("5.7.0 Mail relay denied [%s]. %s - gsmtp", c.ip, c.id)}
		},
		// Gmail does not greylist by name; this is its per-recipient deferral.
		greylist: func(c replyCtx) Reply {
			return gmailLines(450, "4.2.1", "https://support.google.com/mail/?p=ReceivingRate", c,
				"The user you are trying to contact is receiving mail at a rate that",
				"prevents additional messages from being delivered. Please resend your",
				"message at a later time. If the user is able to receive mail at that",
				"time, your message will be delivered. For more information, go to")
		},
		queued: func(c replyCtx) Reply { return Reply{250, "2.0.0 OK  1700000000 " + c.id + " - gsmtp"} },
	},
	"m365": {
		banner: func(c replyCtx) string {
			return c.host + " Microsoft ESMTP MAIL Service ready at " + time.Now().UTC().Format(time.RFC1123Z)
		},
		ehlo:   func(c replyCtx) string { return fmt.Sprintf("%s Hello [%s]", c.host, c.ip) },
		size:   157286400,
		mailOK: func(replyCtx) Reply { return Reply{250, "2.1.0 Sender OK"} },
		rcptOK: func(replyCtx) Reply { return Reply{250, "2.1.5 Recipient OK"} },
		// Directory-based edge blocking: Exchange Online refuses unknown
		// recipients at RCPT with 5.4.1, not 5.1.1.
		unknown: func(c replyCtx) Reply {
			return Reply{550, fmt.Sprintf("5.4.1 Recipient address rejected: Access denied. For more information see https://aka.ms/EXOSmtpErrors [%s]", c.host)}
		},
		full: func(replyCtx) Reply {
			return Reply{552, "5.2.2 The recipient's mailbox is full and can't accept messages now."}
		},
		disabled: func(replyCtx) Reply {
			return Reply{550, "5.2.1 Mailbox disabled, not accepting messages"}
		},
		relay: func(c replyCtx) Reply {
			return Reply{550, fmt.Sprintf("5.7.64 TenantAttribution; Relay Access Denied [%s]", c.host)}
		},
		greylist: func(c replyCtx) Reply {
			return Reply{451, fmt.Sprintf("4.7.500 Server busy. Please try again later from [%s]. (S77714) [%s]", c.ip, c.host)}
		},
		queued: func(c replyCtx) Reply {
			return Reply{250, fmt.Sprintf("2.6.0 <%s@%s> [InternalId=%s] Queued mail for delivery", c.id, c.host, c.id[:12])}
		},
	},
	"exchange": {
		banner: func(c replyCtx) string {
			return c.host + " Microsoft ESMTP MAIL Service ready at " + time.Now().UTC().Format(time.RFC1123Z)
		},
		ehlo:   func(c replyCtx) string { return fmt.Sprintf("%s Hello [%s]", c.host, c.ip) },
		size:   37748736,
		mailOK: func(replyCtx) Reply { return Reply{250, "2.1.0 Sender OK"} },
		rcptOK: func(replyCtx) Reply { return Reply{250, "2.1.5 Recipient OK"} },
		unknown: func(replyCtx) Reply {
			return Reply{550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"}
		},
		full: func(replyCtx) Reply {
			return Reply{552, "5.2.2 STOREDRV.Deliver; mailbox full"}
		},
		disabled: func(replyCtx) Reply {
			return Reply{550, "5.2.1 Mailbox disabled, not accepting messages"}
		},
		relay: func(replyCtx) Reply {
			return Reply{550, "5.7.54 SMTP; Unable to relay recipient in non-accepted domain"}
		},
		greylist: func(c replyCtx) Reply {
			return Reply{451, fmt.Sprintf("4.7.500 Server busy. Please try again later from [%s]. (S77714) [%s]", c.ip, c.host)}
		},
		queued: func(c replyCtx) Reply {
			return Reply{250, fmt.Sprintf("2.6.0 <%s@%s> [InternalId=%s] Queued mail for delivery", c.id, c.host, c.id[:12])}
		},
	},
	"yahoo": {
		banner: func(c replyCtx) string { return c.host + " ESMTP ready" },
		ehlo:   func(c replyCtx) string { return c.host },
		size:   41943040,
		mailOK: func(c replyCtx) Reply { return Reply{250, fmt.Sprintf("sender <%s> ok", c.from)} },
		rcptOK: func(c replyCtx) Reply { return Reply{250, fmt.Sprintf("recipient <%s> ok", c.rcpt)} },
		unknown: func(c replyCtx) Reply {
			return Reply{554, fmt.Sprintf("delivery error: dd This user doesn't have a %s account (%s) [0] - %s", c.domain, c.rcpt, c.host)}
		},
		full: func(c replyCtx) Reply {
			return Reply{552, fmt.Sprintf("1 Requested mail action aborted, exceeded storage allocation - %s", c.host)}
		},
		disabled: func(c replyCtx) Reply {
			return Reply{554, fmt.Sprintf("delivery error: dd Sorry your message to %s cannot be delivered. This mailbox is disabled (554.30). - %s", c.rcpt, c.host)}
		},
		relay: func(c replyCtx) Reply {
			return Reply{554, fmt.Sprintf("delivery error: dd Not a valid recipient - %s", c.host)}
		},
		greylist: func(replyCtx) Reply { return Reply{451, "Message temporarily deferred - [160]"} },
		queued:   func(replyCtx) Reply { return Reply{250, "ok dirdel"} },
	},
}

// Replies that do not depend on the style. The wording is Postfix's
// unless the package comment says otherwise.
var (
	replyTooManyConns   = Reply{421, "4.7.0 Too many concurrent SMTP connections; please try again later"}
	replyTooManyInvalid = Reply{421, "4.7.0 Too many invalid recipients, closing connection"}
	replyMustStartTLS   = Reply{530, "5.7.0 Must issue a STARTTLS command first"}
	replyDataRefused    = Reply{554, "5.7.1 Delivery not authorized, message refused"}
	replyNoValidRcpt    = Reply{554, "5.5.1 Error: no valid recipients"}
	replyNeedRcpt       = Reply{503, "5.5.1 Error: need RCPT command"}
	replyNeedMail       = Reply{503, "5.5.1 Error: need MAIL command"}
	replyNeedHelo       = Reply{503, "5.5.1 Error: send HELO/EHLO first"}
	replyNestedMail     = Reply{503, "5.5.1 Error: nested MAIL command"}
	replyBadSender      = Reply{501, "5.1.7 Bad sender address syntax"}
	replyBadRcpt        = Reply{501, "5.1.3 Bad recipient address syntax"}
	replyDeclareUTF8    = Reply{553, "5.6.7 Must declare SMTPUTF8 to send unicode address"}
	replyTooBig         = Reply{552, "5.3.4 Message size exceeds fixed limit"}
	replyUnknownCommand = Reply{502, "5.5.2 Error: command not recognized"}
	replyNotImplemented = Reply{502, "5.5.1 Error: command not implemented"}
	replyVRFYDisabled   = Reply{502, "5.5.1 VRFY command is disabled"}
	replyNoAuth         = Reply{503, "5.5.1 Error: authentication not enabled"}
	replyTLSActive      = Reply{554, "5.5.1 Error: TLS already active"}
	replyLineTooLong    = Reply{500, "5.5.0 Error: line too long"}
	replyOK             = Reply{250, "2.0.0 Ok"}
	replyBye            = Reply{221, "2.0.0 Bye"}
	replyStartData      = Reply{354, "End data with <CR><LF>.<CR><LF>"}
	replyReadyTLS       = Reply{220, "2.0.0 Ready to start TLS"}
)

func replySyntax(usage string) Reply { return Reply{501, "5.5.4 Syntax: " + usage} }

func replyUnsupportedOption(name string) Reply {
	return Reply{555, "5.5.4 Unsupported option: " + name}
}

func replyTimeout(host string) Reply {
	return Reply{421, "4.4.2 " + host + " Error: timeout exceeded"}
}
